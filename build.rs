//! Makes the binaries find libtorch at run time without `LD_LIBRARY_PATH`, so the app starts
//! from a double-click. Two RPATH entries: `$ORIGIN/../lib/activation-atlas`, where the desktop
//! install copies the libraries (so an installed app does not depend on the build cache), and
//! the resolved libtorch `lib/` folder, for binaries run from the build tree. Also compiles the
//! small C++ shim that reaches libtorch's CPU autocast (bfloat16), which tch does not expose.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={AUTOCAST_SHIM}");
    let Some(libtorch) = std::env::var_os("LIBTORCH") else {
        println!("cargo:warning=LIBTORCH is not set; run scripts/setup.sh (the README's commands do)");
        return;
    };
    compile_autocast_shim(&PathBuf::from(&libtorch));
    // `.libtorch` is a link into the cache: resolve it so the binary keeps working when the
    // work tree moves or is deleted, as long as the cache stays.
    let lib_dir = PathBuf::from(libtorch).join("lib");
    let lib_dir = lib_dir.canonicalize().unwrap_or(lib_dir);
    // RPATH (not RUNPATH) so libtorch's own dependencies are found in the same folder too.
    println!("cargo:rustc-link-arg=-Wl,--disable-new-dtags");
    println!("cargo:rustc-link-arg=-Wl,-rpath,$ORIGIN/../lib/activation-atlas:{}", lib_dir.display());
    // With a CUDA build, keep libtorch_cuda linked even though no symbol of it is referenced
    // directly; otherwise `--as-needed` drops it and CUDA reports itself unavailable.
    if lib_dir.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed,-ltorch_cuda,--as-needed");
    }
}

const AUTOCAST_SHIM: &str = "src/engine/precision/cpu_autocast.cpp";

/// The shim is compiled against the same headers and C++ ABI as torch-sys compiles its own.
fn compile_autocast_shim(libtorch: &std::path::Path) {
    let include = libtorch.join("include");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".to_string());
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .file(AUTOCAST_SHIM)
        .compile("activation_atlas_autocast");
}
