"""The flaky hunter's faces: a live Textual view and plain progress lines, and the verb."""
