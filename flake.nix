{
  description = "nixtest-tui: a terminal-UI debugger and drop-in driver for NixOS VM tests";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in
    {
      # The Python application with the tools it runs at test time on PATH.
      # (Parsed with `nix-instantiate --parse` here; not built: these machines have no Nix store.)
      packages = forAllSystems (pkgs: {
        default = pkgs.python3Packages.buildPythonApplication {
          pname = "nixtest-tui";
          version = "0.1.0";
          pyproject = true;
          src = ./.;
          build-system = [ pkgs.python3Packages.setuptools ];
          dependencies = with pkgs.python3Packages; [
            textual rich qemu-qmp pexpect pillow pytesseract pyte
          ];
          makeWrapperArgs = [
            "--prefix PATH : ${pkgs.lib.makeBinPath [ pkgs.qemu_test pkgs.vde2 pkgs.tesseract ]}"
          ];
          meta.mainProgram = "nixtest-tui";
        };
      });

      apps = forAllSystems (pkgs: {
        default = {
          type = "app";
          program = "${self.packages.${pkgs.system}.default}/bin/nixtest-tui";
        };
      });

      devShells = forAllSystems (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.python3 pkgs.qemu_test pkgs.vde2 pkgs.tesseract pkgs.cpio pkgs.kmod
            pkgs.busybox pkgs.ruff pkgs.mypy
          ];
        };
      });
    };
}
