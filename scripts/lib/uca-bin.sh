# Sourced by the benchmark scripts: sets $uca to the binary under measurement.
# Figures are for the distribution binary (Cargo.toml [profile.dist]); UCA_PROFILE=release measures
# the everyday build, UCA_BIN=PATH any other binary (an older build, side by side; nothing is built).
if [ -n "${UCA_BIN:-}" ]; then
  uca=$(realpath "$UCA_BIN")
else
  profile=${UCA_PROFILE:-dist}
  cargo build --profile "$profile" -p uca --quiet
  uca="${CARGO_TARGET_DIR:-$PWD/target}/$profile/uca"
fi
[ -x "$uca" ] || { echo "not an executable: $uca" >&2; exit 2; }
echo "measuring $uca" >&2
