//! Building blocks shared by the imported architectures: a bias-free convolution followed by
//! batch norm, named as PyTorch names them so state dicts load by name.

use tch::{Tensor, nn, nn::ModuleT};

/// How a convolution pads its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// TensorFlow's "same": output side ceil(side / stride), the extra pixel at the bottom/right.
    Same,
    /// PyTorch's fixed padding on every side.
    Fixed(i64),
}

impl Padding {
    /// Output side for an input side.
    pub fn output_side(self, side: i64, kernel: i64, stride: i64) -> i64 {
        match self {
            Padding::Same => (side + stride - 1) / stride,
            Padding::Fixed(pad) => (side + 2 * pad - kernel) / stride + 1,
        }
    }
}

/// A convolution without bias and the batch norm after it.
#[derive(Debug)]
pub struct ConvBn {
    weight: Tensor,
    bn: nn::BatchNorm,
    pub kernel: i64,
    pub stride: i64,
    groups: i64,
    padding: Padding,
}

impl ConvBn {
    /// `conv` and `bn` are the two modules' paths (e.g. `_blocks.0._depthwise_conv`, `_blocks.0._bn1`).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        conv: nn::Path,
        bn: nn::Path,
        inputs: i64,
        outputs: i64,
        kernel: i64,
        stride: i64,
        groups: i64,
        padding: Padding,
        eps: f64,
    ) -> ConvBn {
        let fan_in = (inputs / groups) * kernel * kernel;
        let bound = (6.0 / fan_in as f64).sqrt();
        let weight = conv.var("weight", &[outputs, inputs / groups, kernel, kernel], nn::Init::Uniform { lo: -bound, up: bound });
        let bn = nn::batch_norm2d(bn, outputs, nn::BatchNormConfig { eps, ..Default::default() });
        ConvBn { weight, bn, kernel, stride, groups, padding }
    }

    pub fn forward_t(&self, x: &Tensor, train: bool) -> Tensor {
        let y = match self.padding {
            Padding::Fixed(pad) => x.conv2d(&self.weight, None::<&Tensor>, [self.stride, self.stride], [pad, pad], [1, 1], self.groups),
            Padding::Same => {
                let size = x.size();
                let (pad_h, pad_w) = (same_padding(size[2], self.kernel, self.stride), same_padding(size[3], self.kernel, self.stride));
                if pad_h % 2 == 0 && pad_w % 2 == 0 {
                    x.conv2d(&self.weight, None::<&Tensor>, [self.stride, self.stride], [pad_h / 2, pad_w / 2], [1, 1], self.groups)
                } else {
                    let padded = x.constant_pad_nd([pad_w / 2, pad_w - pad_w / 2, pad_h / 2, pad_h - pad_h / 2]);
                    padded.conv2d(&self.weight, None::<&Tensor>, [self.stride, self.stride], [0, 0], [1, 1], self.groups)
                }
            }
        };
        self.bn.forward_t(&y, train)
    }

    pub fn output_side(&self, side: i64) -> i64 {
        self.padding.output_side(side, self.kernel, self.stride)
    }
}

/// Total "same" padding along one axis.
fn same_padding(side: i64, kernel: i64, stride: i64) -> i64 {
    let out = (side + stride - 1) / stride;
    ((out - 1) * stride + kernel - side).max(0)
}

/// A fully connected layer with PyTorch's names (`weight`, `bias`).
pub fn linear(path: nn::Path, inputs: i64, outputs: i64) -> nn::Linear {
    nn::linear(path, inputs, outputs, Default::default())
}
