# nixtest-tui as a Nix package, with the tools the driver runs at test time on its PATH.
#
# The same derivation serves as a NixOS test's `pythonTestDriverPackage` (see test-module.nix).
# nixpkgs' driver.nix calls `.override { qemu_pkg; enableOCR; extraPythonPackages;
# enableNspawn; }` on that package, so this function takes exactly those arguments, and `...`
# so that an argument added upstream later does not break the evaluation.
{
  lib,
  python3Packages,
  qemu_test,
  vde2,
  netpbm,
  tesseract,
  coreutils,
  util-linux,
  socat,
  systemd,

  qemu_pkg ? qemu_test,
  enableOCR ? true,
  enableNspawn ? false,
  extraPythonPackages ? (_: [ ]),
  ...
}:
let
  # One source of truth for the version and description: pyproject.toml.
  project = (builtins.fromTOML (builtins.readFile ../pyproject.toml)).project;

  # pyproject.toml's dependencies, by their nixpkgs names (plus ptpython for `-I`).
  pythonDependencies =
    ps: with ps; [
      textual
      rich
      qemu-qmp
      pexpect
      pillow
      pytesseract
      pyte
      junit-xml
      jinja2
      ptpython
    ];

  runtimeTools = [
    qemu_pkg
    vde2
    netpbm
    coreutils
    util-linux
    socat
  ]
  ++ lib.optionals enableOCR [ (tesseract.override { enableLanguages = [ "eng" ]; }) ]
  ++ lib.optionals enableNspawn [ systemd ];
in
python3Packages.buildPythonApplication {
  pname = "nixtest-tui";
  inherit (project) version;
  pyproject = true;

  # Only what the wheel needs: a checkout's .venv, caches and demo output stay out.
  src = lib.fileset.toSource {
    root = ../.;
    fileset = lib.fileset.unions [
      ../pyproject.toml
      ../README.md
      ../nixtest_tui
    ];
  };

  build-system = with python3Packages; [
    setuptools
    wheel
  ];
  dependencies = pythonDependencies python3Packages ++ extraPythonPackages python3Packages;
  # nixpkgs moves faster than our upper bounds; its versions are the ones tested together.
  pythonRelaxDeps = true;

  makeWrapperArgs = [
    "--prefix"
    "PATH"
    ":"
    (lib.makeBinPath runtimeTools)
  ];

  # driver.nix runs `generate-driver-symbols` from the driver package on every test build.
  # A Python script here, so that the Python wrapping below gives it our module path.
  postInstall = ''
    cat > $out/bin/generate-driver-symbols <<EOF
    #!${python3Packages.python.interpreter}
    from nixtest_tui.nixlaunch import generate_driver_symbols
    raise SystemExit(generate_driver_symbols())
    EOF
    chmod +x $out/bin/generate-driver-symbols
  '';

  # The real test suite boots Debian-built guests and cannot run in the sandbox; check
  # instead that the three programs start and that the symbols file has the driver's globals.
  checkPhase = ''
    runHook preCheck
    pushd "$(mktemp -d)" > /dev/null
    $out/bin/generate-driver-symbols
    grep -q start_all driver-symbols
    $out/bin/nixos-test-driver --help > /dev/null
    $out/bin/nixtest-tui --help > /dev/null
    popd > /dev/null
    runHook postCheck
  '';
  pythonImportsCheck = [
    "nixtest_tui.nixlaunch"
    "nixtest_tui.headless.run"
  ];

  passthru = { inherit pythonDependencies runtimeTools; };

  meta = {
    inherit (project) description;
    license = lib.licenses.mit;
    mainProgram = "nixtest-tui";
    platforms = lib.platforms.linux;
  };
}
