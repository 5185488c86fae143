// libtorch's CPU autocast (bfloat16), which tch only exposes for CUDA. Autocast is a property of
// the calling thread; the cast weights it caches are dropped when the outermost region ends, so
// a training step that changes the weights starts a region of its own.
#include <ATen/autocast_mode.h>
#include <ATen/ATen.h>

extern "C" {

// Starts a bfloat16 autocast region of CPU ops on this thread; returns whether one was on.
bool activation_atlas_cpu_autocast_enter() {
  try {
    bool previous = at::autocast::is_autocast_enabled(at::kCPU);
    at::autocast::set_autocast_dtype(at::kCPU, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCPU, true);
    at::autocast::increment_nesting();
    return previous;
  } catch (...) {
    return false;
  }
}

// Turns CPU autocast on or off on this thread without ending a region (its cast weights stay
// cached); returns whether it was on.
bool activation_atlas_cpu_autocast_set(bool enabled) {
  try {
    bool previous = at::autocast::is_autocast_enabled(at::kCPU);
    at::autocast::set_autocast_enabled(at::kCPU, enabled);
    return previous;
  } catch (...) {
    return false;
  }
}

// Ends the region `activation_atlas_cpu_autocast_enter` started.
void activation_atlas_cpu_autocast_exit(bool previous) {
  try {
    at::autocast::set_autocast_enabled(at::kCPU, previous);
    if (at::autocast::decrement_nesting() == 0) {
      at::autocast::clear_cache();
    }
  } catch (...) {
  }
}

// A copy of `tensor` (4-d) in channels-last memory order, or null when that fails.
at::Tensor* activation_atlas_channels_last(const at::Tensor* tensor) {
  try {
    return new at::Tensor(tensor->contiguous(at::MemoryFormat::ChannelsLast));
  } catch (...) {
    return nullptr;
  }
}

}
