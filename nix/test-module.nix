# A NixOS *test* module (for `runNixOSTest`/`runTest`, not a NixOS system module) that makes the
# test run on nixtest-tui's driver: `driver`, `driverInteractive` and the test itself.
#
# nixpkgs builds a test's driver from the test option `pythonTestDriverPackage` (read-only,
# which the module system enforces as "defined at most once"; nixpkgs itself only gives the
# default). It exists since nixpkgs PR #503686 (spring 2026); older nixpkgs have no way to swap
# the package, so there the driver attributes fail with a message instead.
#
# The type check (`skipTypeCheck`) is forced off: upstream runs mypy on the test script against
# a typed Python package named `test_driver`, and nixtest-tui ships no such package (scripts
# get `test_driver` alias modules at run time only). The lint (pyflakes with the names from our
# `generate-driver-symbols`) still runs unless the test sets `skipLint`.
{
  lib,
  hostPkgs,
  options,
  ...
}:
let
  tooOld = throw ''
    nixtest-tui: this nixpkgs has no `pythonTestDriverPackage` test option (added by
    nixpkgs PR #503686 in spring 2026), so its driver cannot be swapped. Update nixpkgs, or
    keep the upstream driver and open the test with `nixtest-tui <flake>#<test>`, which only
    needs the driver's configuration.'';
in
{
  config =
    if options ? pythonTestDriverPackage then
      {
        pythonTestDriverPackage = hostPkgs.callPackage ./package.nix { };
        skipTypeCheck = lib.mkForce true;
      }
    else
      {
        driver = lib.mkForce tooOld;
      };
}
