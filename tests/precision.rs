//! Mixed bfloat16 precision: what it changes and what it keeps. One test function, since the
//! precision is the process's and tests in one binary run side by side.

mod common;

use activation_atlas::engine::classify::classify_images;
use activation_atlas::engine::precision::{Bf16Support, Computation, Precision, computation, cpu_bf16_support, set_precision};
use tch::{Device, Kind, Tensor};

#[test]
fn bfloat16_computes_convolutions_in_it_where_the_cpu_has_it_and_answers_as_float32_does() {
    let net = common::shipped_net(false);
    let classes = ["daisy", "sunflower", "tulip", "pansy", "iris", "bluebell"];
    let photos: Vec<_> = classes.iter().map(|class| common::flowers17_input(class)).collect();

    // Float32 unless told: library users (these tests among them) get the float32 path.
    assert_eq!(computation(), Computation::Float32);
    let float32 = classify_images(&net, &photos);
    let batch = activation_atlas::engine::image_input::images_to_tensor(photos.iter());
    {
        let _region = activation_atlas::engine::precision::mixed(Device::Cpu);
        let inside = tch::no_grad(|| net.forward(&batch, false));
        assert_eq!(inside.kind(), Kind::Float, "no region opens in float32");
    }

    let mixed = set_precision(Precision::Bf16);
    if cpu_bf16_support() == Bf16Support::None {
        // A CPU without bfloat16 keeps float32 even when asked: emulated it would be slower.
        assert_eq!(mixed, Computation::Float32);
        assert_eq!(classify_images(&net, &photos), float32);
        return;
    }
    assert_eq!(mixed, Computation::Mixed);
    {
        let _region = activation_atlas::engine::precision::mixed(Device::Cpu);
        let inside = tch::no_grad(|| net.forward(&batch, false));
        assert_eq!(inside.kind(), Kind::BFloat16, "convolutions and linear layers run in bfloat16");
    }
    // Outside a region everything is float32 again.
    assert_eq!(tch::no_grad(|| net.forward(&batch, false)).kind(), Kind::Float);
    let bfloat16 = classify_images(&net, &photos);
    let mut largest = 0.0f32;
    for (index, (a, b)) in float32.iter().zip(&bfloat16).enumerate() {
        assert_eq!(a.best().0, b.best().0, "{}: another answer in bfloat16", classes[index]);
        for (x, y) in a.probabilities.iter().zip(&b.probabilities) {
            largest = largest.max((x - y).abs());
        }
    }
    // bfloat16 keeps 8 bits of mantissa: probabilities move by hundredths at most, but they move.
    assert!(largest > 0.0 && largest < 0.05, "largest probability difference {largest}");

    // A training step: the weights stay float32 and learn; the loss is float32 and finite.
    let trained = common::shipped_net(false);
    let targets = Tensor::from_slice(&[0i64, 1, 2, 3, 4, 5]);
    let before = trained.vs.variables()["conv1.weight"].copy();
    let mut optimizer = tch::nn::OptimizerConfig::build(tch::nn::Adam::default(), &trained.vs, 1e-3).unwrap();
    let logits = {
        let _region = activation_atlas::engine::precision::mixed(Device::Cpu);
        trained.forward(&batch, true).to_kind(Kind::Float)
    };
    let loss = logits.cross_entropy_for_logits(&targets);
    assert!(loss.double_value(&[]).is_finite());
    optimizer.backward_step(&loss);
    let after = &trained.vs.variables()["conv1.weight"];
    assert_eq!(after.kind(), Kind::Float, "master weights stay float32");
    assert!(!after.equal(&before), "the step changed the weights");

    set_precision(Precision::Fp32);
    assert_eq!(classify_images(&net, &photos), float32, "float32 again, exactly as before");
}

#[test]
fn the_command_line_says_its_precision_and_a_cpu_without_bfloat16_keeps_float32() {
    let photo = common::flowers17_photo("daisy");
    let photo = photo.to_str().unwrap();
    let precision_of = |args: &[&str], env: &[(&str, &str)]| -> String {
        let output = common::cli().args(args).envs(env.iter().copied()).output().expect("the binary runs");
        assert!(output.status.success(), "{}", common::text(&output.stderr));
        let envelope: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON envelope");
        envelope["precision"].as_str().expect("the precision is reported").to_string()
    };
    assert_eq!(precision_of(&["--precision", "fp32", "classify", "--json", photo], &[]), "float32");
    // As on a CPU without bfloat16 instructions: asking for bf16 keeps float32.
    assert_eq!(precision_of(&["--precision", "bf16", "classify", "--json", photo], &[("ACTIVATION_ATLAS_CPU_BF16", "0")]), "float32");
    let auto = precision_of(&["classify", "--json", photo], &[]);
    match cpu_bf16_support() {
        Bf16Support::None => assert_eq!(auto, "float32"),
        support => assert_eq!(auto, format!("bfloat16 ({})", support.name())),
    }
    let output = common::run_cli(&["--precision", "fp16", "classify", photo]);
    assert!(!output.status.success());
    assert!(common::text(&output.stderr).contains("'fp16' is not fp32, bf16 or auto"), "{}", common::text(&output.stderr));
}
