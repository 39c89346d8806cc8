{
  description = "nixtest-tui: a terminal-UI debugger and drop-in driver for NixOS VM tests";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  # Verified on machines without a Nix store: every .nix file parses (`nix-instantiate
  # --parse`, tests/test_nix.py); nothing here has been evaluated against nixpkgs or built.
  # See docs/nix.md for what that leaves unproven.
  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});
      testModule = ./nix/test-module.nix;
    in
    {
      overlays.default = final: _prev: {
        nixtest-tui = final.callPackage ./nix/package.nix { };
      };

      packages = forAllSystems (
        _system: pkgs:
        let
          nixtest-tui = pkgs.callPackage ./nix/package.nix { };
        in
        {
          inherit nixtest-tui;
          default = nixtest-tui;
        }
      );

      apps = forAllSystems (
        system: _pkgs:
        let
          package = self.packages.${system}.default;
        in
        {
          default = {
            type = "app";
            program = lib.getExe package;
            meta.description = "open a NixOS test in nixtest-tui (or run it with --headless)";
          };
          nixos-test-driver = {
            type = "app";
            program = "${package}/bin/nixos-test-driver";
            meta.description = "the drop-in NixOS test driver";
          };
        }
      );

      devShells = forAllSystems (
        system: pkgs:
        let
          package = self.packages.${system}.default;
          python = pkgs.python3.withPackages (
            ps:
            package.passthru.pythonDependencies ps
            ++ [
              ps.pytest
              ps.pytest-asyncio
              ps.pytest-timeout
              ps.mypy
            ]
          );
        in
        {
          default = pkgs.mkShell {
            packages = [
              python
              pkgs.ruff
              pkgs.nix
            ]
            ++ package.passthru.runtimeTools;
            # Run from the checkout: `python -m nixtest_tui ...`, `pytest`.
            shellHook = ''
              export PYTHONPATH="$PWD''${PYTHONPATH:+:$PYTHONPATH}"
            '';
          };
        }
      );

      checks = forAllSystems (
        system: _pkgs: {
          package = self.packages.${system}.default;
        }
      );

      lib = {
        # Add to a test's `imports` to run it on nixtest-tui's driver.
        inherit testModule;

        # The same for a test that is already built: `withNixtestDriver (pkgs.testers.runNixOSTest
        # ./my-test.nix)`. Its `driver`, `driverInteractive` and the test derivation all use
        # nixtest-tui's `nixos-test-driver`.
        withNixtestDriver =
          test:
          if test ? extend then
            test.extend { modules = [ testModule ]; }
          else
            throw (
              "nixtest-tui: withNixtestDriver needs a test made by runNixOSTest or runTest "
              + "(this one has no `extend`); add nixtest-tui.lib.testModule to its imports instead"
            );
      };
    };
}
