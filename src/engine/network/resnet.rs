//! ResNet-18 and ResNet-50 (He et al. 2016) in torchvision's state-dict layout: `conv1`, `bn1`,
//! `layer1`..`layer4` of blocks (`conv1`/`bn1`.., `downsample.0`/`downsample.1`), `fc`; the stride
//! of a bottleneck on its 3x3 convolution (torchvision's "v1.5").

use tch::{Device, Tensor, nn, nn::Module};

use super::guided::relu;
use super::layers::{ConvBn, Padding, linear};
use super::{Architecture, GridTracker, LayerKind, Network, NetworkSpec, vector_layer};

const BN_EPS: f64 = 1e-5;
const WIDTHS: [i64; 4] = [64, 128, 256, 512];

/// A residual block: its convolutions in order (ReLU between them), and the projection of the
/// input when the shape changes.
struct ResBlock {
    convs: Vec<ConvBn>,
    downsample: Option<ConvBn>,
}

impl ResBlock {
    fn forward_t(&self, input: &Tensor, train: bool) -> Tensor {
        let mut x = input.shallow_clone();
        for (index, conv) in self.convs.iter().enumerate() {
            x = conv.forward_t(&x, train);
            if index + 1 < self.convs.len() {
                x = relu(&x);
            }
        }
        let shortcut = match &self.downsample {
            Some(projection) => projection.forward_t(input, train),
            None => input.shallow_clone(),
        };
        relu(&(x + shortcut))
    }
}

pub struct ResNet {
    vs: nn::VarStore,
    spec: NetworkSpec,
    stem: ConvBn,
    blocks: Vec<ResBlock>,
    fc: nn::Linear,
}

impl ResNet {
    pub fn resnet18(num_classes: i64, device: Device) -> ResNet {
        ResNet::new(Architecture::ResNet18, [2, 2, 2, 2], false, num_classes, device)
    }

    pub fn resnet50(num_classes: i64, device: Device) -> ResNet {
        ResNet::new(Architecture::ResNet50, [3, 4, 6, 3], true, num_classes, device)
    }

    fn new(architecture: Architecture, repeats: [usize; 4], bottleneck: bool, num_classes: i64, device: Device) -> ResNet {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mut grid = GridTracker::new(architecture.input_size());
        let mut layers = Vec::new();
        let stem = ConvBn::new(&root / "conv1", &root / "bn1", 3, 64, 7, 2, 1, Padding::Fixed(3), BN_EPS);
        grid.window(7, 2, stem.output_side(grid.side));
        layers.push(grid.spatial("conv1", 64));
        grid.window(3, 2, Padding::Fixed(1).output_side(grid.side, 3, 2));
        layers.push(grid.spatial("maxpool", 64));
        let expansion = if bottleneck { 4 } else { 1 };
        let mut inputs = 64;
        let mut blocks = Vec::new();
        for (stage, (&width, &count)) in WIDTHS.iter().zip(&repeats).enumerate() {
            for repeat in 0..count {
                let stride = if stage > 0 && repeat == 0 { 2 } else { 1 };
                let path = &root / format!("layer{}", stage + 1) / repeat;
                let outputs = width * expansion;
                let conv = |index: usize, from: i64, to: i64, kernel: i64, stride: i64| {
                    ConvBn::new(
                        &path / format!("conv{index}"),
                        &path / format!("bn{index}"),
                        from,
                        to,
                        kernel,
                        stride,
                        1,
                        Padding::Fixed(kernel / 2),
                        BN_EPS,
                    )
                };
                let convs = if bottleneck {
                    vec![conv(1, inputs, width, 1, 1), conv(2, width, width, 3, stride), conv(3, width, outputs, 1, 1)]
                } else {
                    vec![conv(1, inputs, width, 3, stride), conv(2, width, width, 3, 1)]
                };
                for c in &convs {
                    let side = c.output_side(grid.side);
                    grid.window(c.kernel, c.stride, side);
                }
                let downsample = (stride != 1 || inputs != outputs).then(|| {
                    let d = &path / "downsample";
                    ConvBn::new(&d / "0", &d / "1", inputs, outputs, 1, stride, 1, Padding::Fixed(0), BN_EPS)
                });
                layers.push(grid.spatial(format!("layer{}.{repeat}", stage + 1), outputs));
                blocks.push(ResBlock { convs, downsample });
                inputs = outputs;
            }
        }
        layers.push(vector_layer("avgpool", inputs, LayerKind::Vector));
        layers.push(vector_layer("fc", num_classes, LayerKind::Logits));
        let fc = linear(&root / "fc", inputs, num_classes);
        let spec = NetworkSpec { architecture, input_size: architecture.input_size(), normalisation: architecture.normalisation(), layers };
        ResNet { vs, spec, stem, blocks, fc }
    }
}

impl Network for ResNet {
    fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn layer_prefixes(&self, layer: usize) -> Vec<String> {
        let blocks = self.blocks.len();
        match layer {
            0 => vec!["conv1.".into(), "bn1.".into()],
            i if (2..blocks + 2).contains(&i) => vec![format!("{}.", self.spec.layers[i].name)],
            i if i == blocks + 3 => vec!["fc.".into()],
            _ => Vec::new(),
        }
    }

    fn stage(&self, index: usize, input: &Tensor, train: bool) -> Tensor {
        let blocks = self.blocks.len();
        match index {
            0 => relu(&self.stem.forward_t(input, train)),
            1 => input.max_pool2d([3, 3], [2, 2], [1, 1], [1, 1], false),
            i if i < blocks + 2 => self.blocks[i - 2].forward_t(input, train),
            i if i == blocks + 2 => input.mean_dim([2i64, 3].as_slice(), false, input.kind()),
            _ => self.fc.forward(input),
        }
    }
}
