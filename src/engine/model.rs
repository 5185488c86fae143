//! The paper's 7-layer CNN (Zhou, Guo, Ma 2022, section 4): four conv blocks and three
//! fully-connected layers, with every layer's output available to explanations and the atlas.

use std::fmt;

use tch::{Device, Tensor, nn, nn::Module};

use super::network::guided::relu;
use super::network::{Architecture, GridTracker, LayerKind, Network, NetworkSpec, vector_layer};

/// Side length of the square RGB input, in pixels.
pub const INPUT_SIZE: i64 = super::network::PAPER_INPUT_SIZE;
/// Probability of dropping an fc1/fc2 unit while training.
pub const DROPOUT: f64 = 0.5;

/// A layer of a network, by name: the paper's seven (`Layer::CONV1`..`Layer::FC3`) or any layer
/// of another architecture's [`NetworkSpec`] (`Layer::named("block10")`). Names are interned, so
/// a layer is a small `Copy` value that compares and hashes by its name; the set of names is
/// bounded by the networks a session loads.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Layer(&'static str);

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl serde::Serialize for Layer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Layer {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Layer, D::Error> {
        let name = String::deserialize(deserializer)?;
        // The paper's layers as they were always written; any other name as it is.
        Ok(Layer::from_name(&name).unwrap_or_else(|| Layer::named(&name)))
    }
}

impl Layer {
    pub const CONV1: Layer = Layer("conv1");
    pub const CONV2: Layer = Layer("conv2");
    pub const CONV3: Layer = Layer("conv3");
    pub const CONV4: Layer = Layer("conv4");
    pub const FC1: Layer = Layer("fc1");
    pub const FC2: Layer = Layer("fc2");
    pub const FC3: Layer = Layer("fc3");
    /// The paper network's layers, in forward order (their names sort in that order too).
    pub const ALL: [Layer; 7] = [Layer::CONV1, Layer::CONV2, Layer::CONV3, Layer::CONV4, Layer::FC1, Layer::FC2, Layer::FC3];
    pub const CONV: [Layer; 4] = [Layer::CONV1, Layer::CONV2, Layer::CONV3, Layer::CONV4];

    /// The layer called `name` in any network (interned once per distinct name).
    pub fn named(name: &str) -> Layer {
        use std::collections::HashSet;
        use std::sync::{Mutex, OnceLock};
        if let Some(layer) = Layer::ALL.into_iter().find(|layer| layer.0 == name) {
            return layer;
        }
        static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
        let mut names = NAMES.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match names.get(name) {
            Some(&interned) => Layer(interned),
            None => {
                let interned: &'static str = Box::leak(name.to_string().into_boxed_str());
                names.insert(interned);
                Layer(interned)
            }
        }
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// One of the paper network's layers by name (case ignored).
    pub fn from_name(name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().find(|layer| layer.name().eq_ignore_ascii_case(name))
    }

    /// A conv block of the paper's network.
    pub fn is_conv(self) -> bool {
        Layer::CONV.contains(&self)
    }

    /// Whether this is one of the paper network's layers.
    pub fn is_paper(self) -> bool {
        Layer::ALL.contains(&self)
    }

    /// Position in the paper's network (conv1 = 0 .. fc3 = 6). Only the paper's own code asks,
    /// for its own layers; another network's layer answers past the end.
    pub fn index(self) -> usize {
        Layer::ALL.iter().position(|&layer| layer == self).unwrap_or(Layer::ALL.len())
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Shape of one conv block: kernel size, input and output channels.
#[derive(Clone, Copy, Debug)]
pub struct ConvSpec {
    pub layer: Layer,
    pub kernel: i64,
    pub in_channels: i64,
    pub out_channels: i64,
}

/// The four conv blocks (SAME padding, ReLU, 2x2 max-pool stride 2): 100 -> 50 -> 25 -> 12 -> 6.
pub const CONV_SPECS: [ConvSpec; 4] = [
    ConvSpec { layer: Layer::CONV1, kernel: 5, in_channels: 3, out_channels: 32 },
    ConvSpec { layer: Layer::CONV2, kernel: 5, in_channels: 32, out_channels: 64 },
    ConvSpec { layer: Layer::CONV3, kernel: 3, in_channels: 64, out_channels: 128 },
    ConvSpec { layer: Layer::CONV4, kernel: 3, in_channels: 128, out_channels: 128 },
];
/// Flattened conv4 output: 128 channels x 6 x 6.
pub const FLAT_FEATURES: i64 = 128 * 6 * 6;
pub const FC1_UNITS: i64 = 1024;
pub const FC2_UNITS: i64 = 512;

/// Output shape of `layer` for one image (without the batch dimension).
pub fn layer_output_shape(layer: Layer, num_classes: i64) -> Vec<i64> {
    let mut side = INPUT_SIZE;
    for spec in CONV_SPECS {
        side /= 2;
        if spec.layer == layer {
            return vec![spec.out_channels, side, side];
        }
    }
    match layer {
        Layer::FC1 => vec![FC1_UNITS],
        Layer::FC2 => vec![FC2_UNITS],
        _ => vec![num_classes],
    }
}

/// Every trainable tensor of the network with its shape, in a stable order. Checkpoint loading
/// checks files against this list.
pub fn parameter_shapes(num_classes: i64) -> Vec<(String, Vec<i64>)> {
    let mut shapes = Vec::new();
    for spec in CONV_SPECS {
        let name = spec.layer.name();
        shapes.push((format!("{name}.weight"), vec![spec.out_channels, spec.in_channels, spec.kernel, spec.kernel]));
        shapes.push((format!("{name}.bias"), vec![spec.out_channels]));
    }
    for (layer, inputs, outputs) in
        [(Layer::FC1, FLAT_FEATURES, FC1_UNITS), (Layer::FC2, FC1_UNITS, FC2_UNITS), (Layer::FC3, FC2_UNITS, num_classes)]
    {
        shapes.push((format!("{layer}.weight"), vec![outputs, inputs]));
        shapes.push((format!("{layer}.bias"), vec![outputs]));
    }
    shapes
}

/// The usual layer of a view in `spec`: the paper's own choice, else the middle (`middle`: the
/// atlas, feature maps) or the last (class activation maps) of the grid layers.
pub fn usual_layer(spec: &NetworkSpec, paper: Layer, middle: bool) -> Layer {
    if spec.architecture == Architecture::PaperCnn {
        return paper;
    }
    let spatial = spec.spatial_layers();
    let chosen = if middle { spatial.get(spatial.len() / 2) } else { spatial.last() };
    chosen.map_or(paper, |layer| Layer::named(&layer.name))
}

/// The paper's network described as any network is: its layers with their shapes, strides and
/// receptive fields (each conv block: a convolution of its kernel, then 2x2 pooling).
pub fn paper_spec(num_classes: i64) -> NetworkSpec {
    let mut grid = GridTracker::new(INPUT_SIZE);
    let mut layers = Vec::new();
    for spec in CONV_SPECS {
        grid.window(spec.kernel, 1, grid.side);
        grid.window(2, 2, grid.side / 2);
        layers.push(grid.spatial(spec.layer.name(), spec.out_channels));
    }
    layers.push(vector_layer("fc1", FC1_UNITS, LayerKind::Vector));
    layers.push(vector_layer("fc2", FC2_UNITS, LayerKind::Vector));
    layers.push(vector_layer("fc3", num_classes, LayerKind::Logits));
    let architecture = Architecture::PaperCnn;
    NetworkSpec { architecture, input_size: INPUT_SIZE, normalisation: architecture.normalisation(), layers }
}

/// The network. Owns its `VarStore`; tensors are `Send` but not `Sync`, so one thread (the
/// worker) owns a `Net` at a time.
pub struct Net {
    pub vs: nn::VarStore,
    convs: Vec<nn::Conv2D>,
    fc1: nn::Linear,
    fc2: nn::Linear,
    fc3: nn::Linear,
    num_classes: i64,
    spec: NetworkSpec,
}

/// Outputs of every layer for a batch, in `Layer::ALL` order. Conv entries are block outputs
/// (after ReLU and pooling), fc1/fc2 after ReLU, fc3 the logits.
pub struct Activations {
    pub outputs: Vec<Tensor>,
}

impl Activations {
    pub fn get(&self, layer: Layer) -> &Tensor {
        &self.outputs[layer.index()]
    }

    pub fn logits(&self) -> &Tensor {
        self.get(Layer::FC3)
    }
}

impl Net {
    /// A freshly initialised network on `device` (Kaiming-uniform weights, as torch does).
    pub fn new(num_classes: usize, device: Device) -> Net {
        let num_classes = num_classes as i64;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let convs = CONV_SPECS
            .iter()
            .map(|spec| {
                let config = nn::ConvConfig { padding: spec.kernel / 2, ..Default::default() };
                nn::conv2d(&root / spec.layer.name(), spec.in_channels, spec.out_channels, spec.kernel, config)
            })
            .collect();
        let fc1 = nn::linear(&root / "fc1", FLAT_FEATURES, FC1_UNITS, Default::default());
        let fc2 = nn::linear(&root / "fc2", FC1_UNITS, FC2_UNITS, Default::default());
        let fc3 = nn::linear(&root / "fc3", FC2_UNITS, num_classes, Default::default());
        Net { vs, convs, fc1, fc2, fc3, num_classes, spec: paper_spec(num_classes) }
    }

    /// A freshly initialised network whose weights come from `seed` alone: every weight and bias
    /// uniform in ±1/√fan_in, torch's default for these layers. libtorch's global generator is
    /// shared by every thread (a build or an explanation may run beside a training run), so it
    /// cannot make an initialisation reproducible.
    pub fn seeded(num_classes: usize, device: Device, seed: u64) -> Net {
        let net = Net::new(num_classes, device);
        net.reinitialise(|_| true, seed);
        net
    }

    /// Draws the weights and biases of the layers `chosen` selects afresh from `seed`, as
    /// [`Net::seeded`] initialises them.
    fn reinitialise(&self, chosen: impl Fn(&str) -> bool, seed: u64) {
        let mut rng = crate::engine::rng::SeededRng::new(seed);
        let mut variables: Vec<(String, Tensor)> = self.vs.variables().into_iter().collect();
        variables.sort_by(|a, b| a.0.cmp(&b.0));
        let weight_shapes: std::collections::HashMap<String, Vec<i64>> =
            variables.iter().filter_map(|(name, t)| Some((name.strip_suffix(".weight")?.to_string(), t.size()))).collect();
        for (name, mut tensor) in variables {
            let layer = name.rsplit_once('.').map_or(name.as_str(), |(layer, _)| layer);
            if !chosen(layer) {
                continue;
            }
            let fan_in: i64 = weight_shapes.get(layer).map_or(1, |shape| shape[1..].iter().product());
            let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
            let values: Vec<f32> = (0..tensor.numel()).map(|_| rng.uniform(-bound, bound) as f32).collect();
            let initial = Tensor::from_slice(&values).view(tensor.size().as_slice()).to_device(tensor.device()).to_kind(tensor.kind());
            tch::no_grad(|| tensor.copy_(&initial));
        }
    }

    /// An independent copy of the network (same weights, own storage).
    pub fn duplicate(&self) -> Net {
        let mut copy = Net::new(self.num_classes(), self.device());
        if self.kind() != tch::Kind::Float {
            copy.vs.set_kind(self.kind());
        }
        copy.vs.copy(&self.vs).expect("a network of the same shape has the same variables");
        copy
    }

    /// Replaces `layer`'s weights with fresh random ones from `seed` (the sanity check's
    /// cascading randomisation).
    pub fn randomise_layer(&self, layer: Layer, seed: u64) {
        self.reinitialise(|name| name == layer.name(), seed);
    }

    /// Guided backpropagation (Springenberg et al. 2015): the gradient of `class`'s logit with
    /// respect to `images`, where every ReLU passes back only positive gradient at positive
    /// inputs. Computed one block at a time, each block's backward pass masked by hand.
    pub fn guided_backprop(&self, images: &Tensor, class: usize) -> Tensor {
        // Forward, keeping every pre-activation (before ReLU) and each block's input.
        let mut inputs = Vec::new(); // detached block inputs
        let mut pre = Vec::new(); // detached pre-activations
        let mut x = images.detach();
        tch::no_grad(|| {
            for conv in &self.convs {
                inputs.push(x.shallow_clone());
                let z = conv.forward(&x);
                x = z.relu().max_pool2d_default(2);
                pre.push(z);
            }
            inputs.push(x.shallow_clone());
            let z = self.fc1.forward(&x.flatten(1, -1));
            x = z.relu();
            pre.push(z);
            inputs.push(x.shallow_clone());
            let z = self.fc2.forward(&x);
            x = z.relu();
            pre.push(z);
            inputs.push(x.shallow_clone());
        });
        // Backward from the logit: gradient with respect to each block's input, then guided
        // through the ReLU that produced that input.
        let guided = |gradient: Tensor, pre_activation: &Tensor| gradient.clamp_min(0.0) * pre_activation.gt(0.0).to_kind(gradient.kind());
        let through = |input: &Tensor, block: &dyn Fn(&Tensor) -> Tensor, upstream: &Tensor| -> Tensor {
            let leaf = input.detach().set_requires_grad(true);
            let output = (block(&leaf) * upstream).sum(tch::Kind::Float);
            Tensor::run_backward(&[output], &[&leaf], false, false).remove(0)
        };
        let batch = images.size()[0];
        let one_hot = Tensor::zeros([batch, self.num_classes], (images.kind(), images.device()));
        let _ = one_hot.narrow(1, class as i64, 1).fill_(1.0);
        // fc3 <- fc2's ReLU
        let g = through(&inputs[6], &|x| self.fc3.forward(x), &one_hot);
        let g = guided(g, &pre[5]);
        let g = through(&inputs[5], &|x| self.fc2.forward(x), &g);
        let g = guided(g, &pre[4]);
        let g = through(&inputs[4], &|x| self.fc1.forward(&x.flatten(1, -1)), &g);
        // Through each conv block from the last: the pooling's gradient, then the guided ReLU,
        // then the convolution.
        let mut g = g;
        for index in (0..self.convs.len()).rev() {
            let g_relu = through(&pre[index].relu(), &|x| x.max_pool2d_default(2), &g);
            let g_pre = guided(g_relu, &pre[index]);
            g = through(&inputs[index], &|x| self.convs[index].forward(x), &g_pre);
        }
        g
    }

    pub fn num_classes(&self) -> usize {
        self.num_classes as usize
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// The floating-point type of the weights (32-bit unless converted, e.g. for exact tests).
    pub fn kind(&self) -> tch::Kind {
        (&self.vs.root() / "conv1").get("weight").map_or(tch::Kind::Float, |w| w.kind())
    }

    /// Runs `images` ([N, 3, 100, 100], values in [0, 1]) through every layer, stopping after
    /// `last` (later entries are absent). `train` enables dropout drawn from libtorch's global
    /// generator; training itself uses [`Net::forward_training`] with seeded masks.
    pub fn forward_until(&self, images: &Tensor, last: Layer, train: bool) -> Activations {
        let mut outputs = Vec::with_capacity(last.index() + 1);
        let mut x = images.shallow_clone();
        for conv in &self.convs {
            x = pooled_relu(&conv.forward(&x));
            outputs.push(x.shallow_clone());
            if outputs.len() > last.index() {
                return Activations { outputs };
            }
        }
        let flat = x.flatten(1, -1);
        let h1 = self.fc1.forward(&flat).relu();
        outputs.push(h1.shallow_clone());
        if last == Layer::FC1 {
            return Activations { outputs };
        }
        let h2 = self.fc2.forward(&h1.dropout(DROPOUT, train)).relu();
        outputs.push(h2.shallow_clone());
        if last == Layer::FC2 {
            return Activations { outputs };
        }
        outputs.push(self.fc3.forward(&h2.dropout(DROPOUT, train)));
        Activations { outputs }
    }

    /// Training logits for `images`, with dropout applied through `masks` (see [`DropoutMasks`]).
    pub fn forward_training(&self, images: &Tensor, masks: &DropoutMasks) -> Tensor {
        let h1 = self.forward_until(images, Layer::FC1, false).outputs.pop().expect("forward_until returns fc1");
        let h2 = self.fc2.forward(&(h1 * &masks.before_fc2)).relu();
        self.fc3.forward(&(h2 * &masks.before_fc3))
    }

    /// Every layer's output for `images`.
    pub fn forward_all(&self, images: &Tensor, train: bool) -> Activations {
        self.forward_until(images, Layer::FC3, train)
    }

    /// Logits for `images`.
    pub fn forward(&self, images: &Tensor, train: bool) -> Tensor {
        self.forward_all(images, train).outputs.pop().expect("forward_all returns fc3")
    }

    /// The convolution of conv block `layer` alone (before its ReLU and pooling), applied to the
    /// previous block's output.
    pub fn conv_pre_activation(&self, layer: Layer, input: &Tensor) -> Tensor {
        self.convs[layer.index()].forward(input)
    }

    /// Conv block `layer`'s output at the centre of its grid, `[N, C]`, computed from only the
    /// pixels that position sees: the same numbers as [`Net::forward_until`] there, for a
    /// fraction of the work (an icon for conv2 needs 4 of conv2's 144 positions). None when that
    /// receptive field does not lie inside the picture (padding would then matter).
    pub fn centre_activation(&self, images: &Tensor, layer: Layer) -> Option<Tensor> {
        self.centre_window(images, layer, true)
    }

    /// [`Net::centre_activation`] without the last ReLU (max-pooling commutes with it): negative
    /// where a channel is off, so a gradient still says how to turn it on.
    pub fn centre_pre_relu(&self, images: &Tensor, layer: Layer) -> Option<Tensor> {
        self.centre_window(images, layer, false)
    }

    fn centre_window(&self, images: &Tensor, layer: Layer, last_relu: bool) -> Option<Tensor> {
        let size = images.size();
        if !layer.is_conv() || size.len() != 4 || size[2] != size[3] {
            return None;
        }
        let blocks = layer.index() + 1;
        // Each block keeps its input size (padding k/2) and halves it by pooling.
        let mut sides = vec![size[3]];
        for b in 0..blocks {
            sides.push(sides[b] / 2);
        }
        // From the top down: the rows (and columns) of each block's input its needed outputs see.
        let centre = sides[blocks] / 2;
        let (mut low, mut high) = (centre, centre);
        for b in (0..blocks).rev() {
            let pad = CONV_SPECS[b].kernel / 2;
            (low, high) = (2 * low - pad, 2 * high + 1 + pad);
            if low < 0 || high >= sides[b] {
                return None;
            }
        }
        let mut x = images.narrow(2, low, high - low + 1).narrow(3, low, high - low + 1);
        for (b, conv) in self.convs[..blocks].iter().enumerate() {
            // Without padding: the window holds every input the kept outputs need, and pooling
            // pairs line up because each window starts on an even row of the full grid.
            x = x.conv2d(&conv.ws, conv.bs.as_ref(), [1, 1], [0, 0], [1, 1], 1);
            if last_relu || b + 1 < blocks {
                x = x.relu();
            }
            x = x.max_pool2d_default(2);
        }
        Some(x.flatten(1, -1))
    }

    /// The kernel of conv block `layer`: `[out, in, k, k]`.
    pub fn conv_weight(&self, layer: Layer) -> &Tensor {
        &self.convs[layer.index()].ws
    }

    /// Logits from conv block `layer`'s convolution output (see [`Net::conv_pre_activation`]).
    pub fn forward_from_pre_activation(&self, layer: Layer, pre_activation: &Tensor) -> Tensor {
        self.forward_from(layer, &pooled_relu(pre_activation), false)
    }

    /// Continues a forward pass from the output of conv `layer` to the logits; Grad-CAM and the
    /// atlas take gradients with respect to an intermediate activation this way.
    pub fn forward_from(&self, layer: Layer, activation: &Tensor, train: bool) -> Tensor {
        let mut x = activation.shallow_clone();
        if layer.is_conv() {
            for conv in &self.convs[layer.index() + 1..] {
                x = pooled_relu(&conv.forward(&x));
            }
            x = self.fc1.forward(&x.flatten(1, -1)).relu();
        }
        if layer <= Layer::FC1 {
            x = self.fc2.forward(&x.dropout(DROPOUT, train)).relu();
        }
        if layer <= Layer::FC2 {
            x = self.fc3.forward(&x.dropout(DROPOUT, train));
        }
        x
    }
}

/// A conv block's ReLU and 2 x 2 max-pooling, pooled first: max(relu(a), relu(b)) = relu(max(a,
/// b)), and the gradient reaches the same element either way, but the ReLU and its backward run
/// on a quarter of the values (the largest tensors of a pass: a fifth of its time in bfloat16).
fn pooled_relu(pre_activation: &Tensor) -> Tensor {
    pre_activation.max_pool2d_default(2).relu()
}

/// The paper's network behind the interface every architecture has; its own methods above stay
/// the fast paths (hand-carried guided backprop, centre windows) for the parts that use them.
impl Network for Net {
    fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    fn stage(&self, index: usize, input: &Tensor, train: bool) -> Tensor {
        match Layer::ALL.get(index).copied() {
            // ReLU after the pooling, as in `pooled_relu`; cut there for guided backprop.
            Some(layer) if layer.is_conv() => relu(&self.convs[index].forward(input).max_pool2d_default(2)),
            Some(Layer::FC1) => relu(&self.fc1.forward(&input.flatten(1, -1))),
            Some(Layer::FC2) => relu(&self.fc2.forward(&input.dropout(DROPOUT, train))),
            _ => self.fc3.forward(&input.dropout(DROPOUT, train)),
        }
    }

    fn hand_guided_backprop(&self, images: &Tensor, class: usize) -> Option<Tensor> {
        Some(Net::guided_backprop(self, images, class))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn layer_prefixes(&self, layer: usize) -> Vec<String> {
        Layer::ALL.get(layer).map(|layer| vec![format!("{}.", layer.name())]).unwrap_or_default()
    }
}

/// The paper's network behind `net`, where it is one: its fast paths and paper-only views.
pub fn paper_net(net: &dyn Network) -> Option<&Net> {
    net.as_any().downcast_ref::<Net>()
}

/// Dropout for one training batch as multiplicative masks (0, or 1/(1-p) for kept units), drawn
/// from the training run's own seeded generator: libtorch's global generator is shared with every
/// other job in the process, so dropout drawn from it would make a seeded run unrepeatable.
pub struct DropoutMasks {
    before_fc2: Tensor,
    before_fc3: Tensor,
}

impl DropoutMasks {
    /// The mask values for `batch` images, flat: fc1's units then fc2's, row by row.
    pub fn draw(batch: usize, rng: &mut crate::engine::rng::SeededRng) -> Vec<f32> {
        let keep = (1.0 / (1.0 - DROPOUT)) as f32;
        (0..batch * (FC1_UNITS + FC2_UNITS) as usize).map(|_| if rng.next_f64() < DROPOUT { 0.0 } else { keep }).collect()
    }

    /// Masks from values made by [`DropoutMasks::draw`] for `batch` images.
    pub fn from_values(values: &[f32], batch: usize, device: Device) -> DropoutMasks {
        let split = batch * FC1_UNITS as usize;
        let batch = batch as i64;
        DropoutMasks {
            before_fc2: Tensor::from_slice(&values[..split]).view([batch, FC1_UNITS]).to_device(device),
            before_fc3: Tensor::from_slice(&values[split..]).view([batch, FC2_UNITS]).to_device(device),
        }
    }
}

/// The device the engine computes on: CUDA when libtorch and the machine have it, else CPU.
pub fn default_device() -> Device {
    Device::cuda_if_available()
}

/// A short human name for a device ("CPU", "CUDA 0").
pub fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "CPU".to_string(),
        Device::Cuda(index) => format!("CUDA {index}"),
        other => format!("{other:?}"),
    }
}
