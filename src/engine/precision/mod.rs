//! Mixed precision on the CPU: convolutions and matrix products in bfloat16 where the CPU has
//! native bfloat16 instructions (AMX-BF16 or AVX512-BF16), everything else in float32: the
//! weights the optimiser updates, its state, losses, softmax, batch-norm statistics.
//!
//! The process has one precision, set once by the command line (`--precision`) or the window's
//! setting; until then, and for library users such as the tests, it is float32. Work that wants
//! the mixed form opens a [`MixedPrecision`] region on its thread around its forward passes.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use tch::Device;

/// What the user asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    Fp32,
    Bf16,
    /// bfloat16 where the CPU has it natively, else float32.
    #[default]
    Auto,
}

impl Precision {
    pub const ALL: [Precision; 3] = [Precision::Auto, Precision::Bf16, Precision::Fp32];

    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Bf16 => "bf16",
            Precision::Auto => "auto",
        }
    }

    pub fn from_name(name: &str) -> Option<Precision> {
        Precision::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// What the process computes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Computation {
    Float32,
    /// bfloat16 convolutions and matrix products, float32 elsewhere.
    Mixed,
}

/// The CPU's native bfloat16 instructions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bf16Support {
    Amx,
    Avx512,
    None,
}

impl Bf16Support {
    pub fn name(self) -> &'static str {
        match self {
            Bf16Support::Amx => "AMX-BF16",
            Bf16Support::Avx512 => "AVX512-BF16",
            Bf16Support::None => "none",
        }
    }
}

/// Set to 0 to behave as on a CPU without bfloat16 (for checking that path on this machine).
pub const CPU_BF16_VARIABLE: &str = "ACTIVATION_ATLAS_CPU_BF16";

/// The CPU's bfloat16 instructions, from the kernel's flags (read once). On a CPU without them
/// libtorch would emulate bfloat16 slower than float32, so `auto` keeps float32 there.
pub fn cpu_bf16_support() -> Bf16Support {
    static SUPPORT: OnceLock<Bf16Support> = OnceLock::new();
    *SUPPORT.get_or_init(|| {
        if std::env::var(CPU_BF16_VARIABLE).is_ok_and(|v| v.trim() == "0") {
            return Bf16Support::None;
        }
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let flags: Vec<&str> = flags.lines().find(|line| line.starts_with("flags")).map_or(Vec::new(), |l| l.split_whitespace().collect());
        if flags.contains(&"amx_bf16") {
            Bf16Support::Amx
        } else if flags.contains(&"avx512_bf16") {
            Bf16Support::Avx512
        } else {
            Bf16Support::None
        }
    })
}

const FLOAT32: u8 = 0;
const MIXED: u8 = 1;
static PROCESS: AtomicU8 = AtomicU8::new(FLOAT32);

/// Sets the process's precision; `auto` and `bf16` give the mixed form only where the CPU has
/// bfloat16 (asking for bf16 on a CPU without it keeps float32: emulated, it would be slower).
pub fn set_precision(precision: Precision) -> Computation {
    let mixed = precision != Precision::Fp32 && cpu_bf16_support() != Bf16Support::None;
    PROCESS.store(if mixed { MIXED } else { FLOAT32 }, Ordering::Relaxed);
    computation()
}

pub fn computation() -> Computation {
    if PROCESS.load(Ordering::Relaxed) == MIXED { Computation::Mixed } else { Computation::Float32 }
}

/// One line for the status bar and `--json`: "bfloat16 (AMX-BF16)", "float32".
pub fn describe() -> String {
    match computation() {
        Computation::Mixed => format!("bfloat16 ({})", cpu_bf16_support().name()),
        Computation::Float32 => "float32".to_string(),
    }
}

/// A device with the arithmetic it computes in: "CPU · bfloat16 (AMX-BF16)", "CPU", "CUDA 0".
pub fn device_and_precision(device: Device) -> String {
    let name = super::model::device_name(device);
    match computation() {
        Computation::Mixed if device == Device::Cpu => format!("{name} · {}", describe()),
        _ => name,
    }
}

unsafe extern "C" {
    fn activation_atlas_cpu_autocast_enter() -> bool;
    fn activation_atlas_cpu_autocast_exit(previous: bool);
    fn activation_atlas_cpu_autocast_set(enabled: bool) -> bool;
}

/// A bfloat16 autocast region on this thread while it lives, when the process computes in the
/// mixed form on the CPU; otherwise nothing. Outputs of convolutions and linear layers inside it
/// are bfloat16: take `to_kind(Float)` of what leaves it. A training step opens one per step,
/// since the region's cast weights are only dropped when it ends.
#[must_use = "the region ends when this is dropped"]
pub struct MixedPrecision {
    previous: Option<bool>,
}

pub fn mixed(device: Device) -> MixedPrecision {
    let on = device == Device::Cpu && computation() == Computation::Mixed;
    // SAFETY: the shim only calls libtorch's autocast state functions, which do not throw
    // through it (it catches everything).
    let previous = on.then(|| unsafe { activation_atlas_cpu_autocast_enter() });
    MixedPrecision { previous }
}

impl Drop for MixedPrecision {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            // SAFETY: as above; ends the region this value started.
            unsafe { activation_atlas_cpu_autocast_exit(previous) }
        }
    }
}

unsafe extern "C" {
    fn activation_atlas_channels_last(tensor: *const std::ffi::c_void) -> *mut std::ffi::c_void;
}

/// The layout a batch should enter the network in: channels-last while this process computes in
/// the mixed form on the CPU (oneDNN's bfloat16 convolutions run about twice as fast on it),
/// else `images` as it is, so the float32 path stays exactly as it was. Gradients flow back to
/// `images` in its own layout.
pub fn fast_layout(images: &tch::Tensor) -> tch::Tensor {
    if computation() == Computation::Mixed && images.device() == Device::Cpu { channels_last(images) } else { images.shallow_clone() }
}

/// `images` (4-d) in channels-last memory order, which oneDNN's bfloat16 convolutions run
/// fastest on; the values and shape are the same. Falls back to `images` itself if libtorch
/// refuses.
pub fn channels_last(images: &tch::Tensor) -> tch::Tensor {
    if images.dim() != 4 {
        return images.shallow_clone();
    }
    // SAFETY: tch's tensor handle is a pointer to libtorch's at::Tensor, which the shim reads;
    // it returns a new heap at::Tensor whose ownership passes to the tch Tensor made from it.
    unsafe {
        let copy = activation_atlas_channels_last(images.as_ptr().cast());
        if copy.is_null() { images.shallow_clone() } else { tch::Tensor::from_ptr(copy.cast()) }
    }
}

/// Float32 on this thread while it lives, inside a mixed region too (whose cached bfloat16
/// weights stay for when it resumes): for a step that needs float32's precision.
#[must_use = "float32 lasts until this is dropped"]
pub struct Float32Here {
    previous: Option<bool>,
}

pub fn float32_here() -> Float32Here {
    let on = computation() == Computation::Mixed;
    // SAFETY: as for `mixed`: the shim only sets libtorch's autocast flag for this thread.
    let previous = on.then(|| unsafe { activation_atlas_cpu_autocast_set(false) });
    Float32Here { previous }
}

impl Drop for Float32Here {
    fn drop(&mut self) {
        if let Some(previous) = self.previous {
            // SAFETY: as above; restores the flag this value turned off.
            unsafe {
                activation_atlas_cpu_autocast_set(previous);
            }
        }
    }
}
