# machines: www client
# log: www: waiting for TCP port 80 on localhost
# log: subtest: a CGI script sees the request
# A small web application: static files and CGI over busybox httpd, checked from a client.
from datetime import timedelta

start_all()

with subtest("set up the site"):
    www.wait_for_unit("multi-user.target")
    www.succeed(
        "mkdir -p /srv/www/cgi-bin",
        "echo '<h1>It works!</h1>' > /srv/www/index.html",
        "printf '%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' 'echo'"
        " 'echo \"host=$(uname -n) query=$QUERY_STRING\"' > /srv/www/cgi-bin/whoami",
        "chmod +x /srv/www/cgi-bin/whoami",
        "httpd -p 80 -h /srv/www",
    )
    www.wait_for_open_port(80)

with subtest("static content from the client"):
    client.wait_for_open_port(80, addr="www", timeout=timedelta(seconds=30))
    t.assertIn("It works!", client.succeed("wget -qO- http://www/"))

with subtest("a CGI script sees the request"):
    body = client.succeed("wget -qO- 'http://www/cgi-bin/whoami?user=alice'")
    t.assertEqual(body.strip(), "host=www query=user=alice")

with subtest("missing pages are errors, and retries give up eventually"):
    status, out = client.execute("timeout 5 wget -qO- http://www/nope.html 2>&1")
    t.assertEqual(status, 1)
    t.assertIn("404 Not Found", out)

    def page_appears(remaining: float | None) -> bool:
        status, _ = client.execute("timeout 5 wget -qO- http://www/late.html")
        if status != 0 and remaining is not None and remaining < 6:
            client.log("late.html never appeared")
        return status == 0

    www.succeed("(sleep 2; echo late > /srv/www/late.html) >/dev/null 2>&1 &")
    retry(page_appears, timeout=timedelta(seconds=30))
    t.assertEqual(client.succeed("wget -qO- http://www/late.html"), "late\n")

with subtest("the server goes away"):
    www.succeed("killall httpd")
    client.wait_until_fails("nc -z www 80", timeout=timedelta(seconds=20))
    client.fail("timeout 5 wget -qO- http://www/")
