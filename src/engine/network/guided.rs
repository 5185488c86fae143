//! The activation functions every architecture uses, and guided backpropagation through any
//! network built from them.
//!
//! Guided backprop (Springenberg et al. 2015) changes the backward pass of each ReLU: only
//! positive gradient passes, and only where the input was positive. libtorch's autograd has no
//! hook for that from Rust, so the forward pass cuts the graph at every activation while a
//! [`GuidedTape`] is recording: the activation's input is kept, and the activation is applied to
//! a detached copy. The backward pass then runs segment by segment from the logit down, in the
//! reverse of the order the cuts were made (a topological order, so residual branches are summed
//! before they are passed on), masking the gradient by hand at each cut.

use std::cell::RefCell;

use tch::{Kind, Tensor};

use super::Network;

/// Where an activation is linear: ReLU passes (0, ∞), ReLU6 (0, 6).
#[derive(Clone, Copy, Debug)]
enum Activation {
    Relu,
    Relu6,
}

/// One cut activation: its input (still attached to the graph before it) and the detached copy
/// the rest of the network was computed from.
struct Cut {
    input: Tensor,
    leaf: Tensor,
    activation: Activation,
}

thread_local! {
    /// The cuts of the guided forward pass running on this thread, if one is.
    static TAPE: RefCell<Option<Vec<Cut>>> = const { RefCell::new(None) };
}

/// ReLU; cut for guided backprop while a tape records.
pub fn relu(x: &Tensor) -> Tensor {
    activate(x, Activation::Relu)
}

/// ReLU6 (EfficientNet-Lite); cut for guided backprop while a tape records.
pub fn relu6(x: &Tensor) -> Tensor {
    activate(x, Activation::Relu6)
}

fn apply(x: &Tensor, activation: Activation) -> Tensor {
    match activation {
        Activation::Relu => x.relu(),
        Activation::Relu6 => x.clamp(0.0, 6.0),
    }
}

fn activate(x: &Tensor, activation: Activation) -> Tensor {
    TAPE.with(|tape| match tape.borrow_mut().as_mut() {
        Some(cuts) if x.requires_grad() => {
            let leaf = x.detach().set_requires_grad(true);
            let output = apply(&leaf, activation);
            cuts.push(Cut { input: x.shallow_clone(), leaf, activation });
            output
        }
        _ => apply(x, activation),
    })
}

/// Records the cuts of one forward pass on this thread; dropping it stops the recording, so a
/// panic inside the pass leaves no tape behind.
struct GuidedTape;

impl GuidedTape {
    fn start() -> GuidedTape {
        TAPE.with(|tape| *tape.borrow_mut() = Some(Vec::new()));
        GuidedTape
    }

    fn finish(self) -> Vec<Cut> {
        TAPE.with(|tape| tape.borrow_mut().take()).unwrap_or_default()
    }
}

impl Drop for GuidedTape {
    fn drop(&mut self) {
        TAPE.with(|tape| tape.borrow_mut().take());
    }
}

/// The guided gradient at a cut: positive gradient only, where the activation was linear.
fn guided_mask(gradient: &Tensor, cut: &Cut) -> Tensor {
    let open = match cut.activation {
        Activation::Relu => cut.leaf.gt(0.0),
        Activation::Relu6 => cut.leaf.gt(0.0).logical_and(&cut.leaf.lt(6.0)),
    };
    gradient.clamp_min(0.0) * open.to_kind(gradient.kind())
}

/// Guided backpropagation of `class`'s logit to `images`: the network's hand-carried form where
/// it has one, else [`guided_backprop_by_autograd`].
pub fn guided_backprop(net: &dyn Network, images: &Tensor, class: usize) -> Tensor {
    net.hand_guided_backprop(images, class).unwrap_or_else(|| guided_backprop_by_autograd(net, images, class))
}

/// Guided backpropagation of `class`'s logit to `images` (`[N, 3, S, S]`, the network's input
/// side) through any network whose activations are [`relu`] / [`relu6`]: a map of the input's
/// shape. Pooling, batch norm, convolutions and additions pass gradient as usual.
pub fn guided_backprop_by_autograd(net: &dyn Network, images: &Tensor, class: usize) -> Tensor {
    let input = images.detach().set_requires_grad(true);
    let tape = GuidedTape::start();
    let logits = net.logits(&input, false);
    let cuts = tape.finish();
    // Each backward segment ends at the cuts made before its start, or at the input.
    let targets = |before: usize| -> Vec<&Tensor> { cuts[..before].iter().map(|cut| &cut.leaf).chain([&input]).collect() };
    let mut gradients: Vec<Option<Tensor>> = (0..=cuts.len()).map(|_| None).collect();
    let pass_back = |from: Tensor, before: usize, gradients: &mut Vec<Option<Tensor>>| {
        // Kept: a residual branch's nodes lie on the segments of several cuts.
        let reached = Tensor::run_backward(&[from], &targets(before), true, false);
        for (index, gradient) in reached.into_iter().enumerate().filter(|(_, g)| g.defined()) {
            // The input's gradient is kept in the last slot.
            let slot = if index == before { cuts.len() } else { index };
            gradients[slot] = Some(match gradients[slot].take() {
                Some(sum) => sum + gradient,
                None => gradient,
            });
        }
    };
    let objective = logits.select(1, class as i64).sum(Kind::Float);
    pass_back(objective, cuts.len(), &mut gradients);
    for index in (0..cuts.len()).rev() {
        let Some(gradient) = gradients[index].take() else { continue };
        let cut = &cuts[index];
        if !cut.input.requires_grad() {
            continue;
        }
        let masked = guided_mask(&gradient, cut);
        pass_back((&cut.input * masked).sum(Kind::Float), index, &mut gradients);
    }
    gradients[cuts.len()].take().unwrap_or_else(|| images.zeros_like())
}
