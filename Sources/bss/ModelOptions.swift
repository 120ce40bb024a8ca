import ArgumentParser
import Foundation
import ModelIO

/// `MODEL [--arch SPEC]`: a model file and, for weight-only files, its architecture.
struct ModelOptions: ParsableArguments {
    @Argument(help: "Model file: .npz, .safetensors or .h5 state dict (with --arch), Keras .h5 or .keras.")
    var model: String

    @Option(name: .customLong("arch"), help: "Architecture: a preset (`bss presets` lists them: heo2019-, akamaster-, repdistiller-, torchvision-...[@SIZE], mlp:I-H-C) or a JSON spec path.")
    var arch: String?

    func load() throws -> Model { try ModelLoader.load(model, arch: arch) }
}

/// `--data DATA` and how to read it.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data set: .npz or .h5 with x (samples first) and y (labels); CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin, or a folder of data_batch_*.bin); CIFAR-100 binaries (train.bin, test.bin, or their folder); downsampled ImageNet .npz batches (train_data_batch_N.npz, val_data.npz, or their folder); PNG/JPEG images (one file, a folder of them, one sub-folder per class, or Tiny ImageNet); MNIST/Fashion-MNIST IDX images (…-images-idx3-ubyte[.gz], labels file found next to it). See docs/data-formats.md.",
                               valueName: "data"))
    var data: String

    @Option(help: "Layout of images in an .npz/.h5 DATA: nchw or nhwc (default: the model's native layout). CIFAR and IDX files have their own.")
    var dataLayout: String?

    @Option(help: ArgumentHelp("Multiply inputs by this factor after reading, e.g. 1/255 for uint8 pixels. Integer pixels are used as stored unless asked.",
                               valueName: "factor"),
            transform: { try DataLoader.Preprocessing.scaleFactor($0) })
    var scale: Float?

    @Option(help: ArgumentHelp("Per-channel normalisation (x - mean) / std after scaling: a preset, or MEAN1,MEAN2,...:STD1,STD2,... Presets: cifar10 = the paper's CIFAR-10 runs (integer pixels / 255, then mean 0.4914,0.4822,0.4465, std 0.2023,0.1994,0.2010); mnist = integer pixels / 255, then mean 0.1307, std 0.3081.",
                               valueName: "preset|means:stds"))
    var normalize: String?

    @OptionGroup var reading: DataReadOptions

    /// The preprocessing the flags ask for (`--normalize`, then `--scale` overriding its /255).
    func preprocessing() throws -> DataLoader.Preprocessing {
        var p = try normalize.map { try DataLoader.Preprocessing.normalization($0) } ?? .init()
        if let scale { p.scale = scale }
        return p
    }

    func load(for model: Model) throws -> DataSet {
        var stored = model.inputLayout
        if let l = dataLayout {
            guard let v = DataLayout(rawValue: l.lowercased()) else {
                throw UserError("--data-layout must be nchw or nhwc, found '\(l)'")
            }
            stored = v
        }
        let ds = try DataLoader.load(data, stored: stored, preprocessing: try preprocessing(), options: reading.options)
            .conformed(to: model.graph.inputShape, layout: model.inputLayout)
        try ds.validate(inputShape: model.graph.inputShape, classes: model.classes)
        return ds
    }
}

/// `--label`: what to read from a data file, shared by every command that reads `DATA`.
struct DataReadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("CIFAR-100 label to use: fine (100 classes, the default) or coarse (20 superclasses). An error for other formats.",
                               valueName: "fine|coarse"),
            transform: { try DataLoader.ReadOptions.label($0) })
    var label: DataLoader.CIFARLabel?

    var options: DataLoader.ReadOptions { .init(cifarLabel: label) }
}
