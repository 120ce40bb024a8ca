import ArgumentParser
import Foundation
import ModelIO

/// `MODEL [--arch SPEC]`: a model file and, for weight-only files, its architecture.
struct ModelOptions: ParsableArguments {
    @Argument(help: "Model file: .npz or .h5 state dict (with --arch), Keras .h5 or .keras.")
    var model: String

    @Option(name: .customLong("arch"), help: "Architecture: a preset (cifar-resnet8..110, mlp:I-H-C) or a JSON spec path.")
    var arch: String?

    func load() throws -> Model { try ModelLoader.load(model, arch: arch) }
}

/// `--data DATA` and how to read it.
struct DataOptions: ParsableArguments {
    @Option(help: "Data set: .npz with arrays x and (for eval) y.")
    var data: String

    @Option(help: "Layout of images in DATA: nchw or nhwc (default: the model's native layout).")
    var dataLayout: String?

    @Option(help: "Multiply inputs by this factor after reading (e.g. 0.00392156862745098 for uint8 / 255).")
    var scale: Float?

    func load(for model: Model) throws -> DataSet {
        var stored = model.inputLayout
        if let l = dataLayout {
            guard let v = DataLayout(rawValue: l.lowercased()) else {
                throw UserError("--data-layout must be nchw or nhwc, found '\(l)'")
            }
            stored = v
        }
        let ds = try DataLoader.load(data, stored: stored, preprocessing: .init(scale: scale))
        try ds.validate(inputShape: model.graph.inputShape, classes: model.classes)
        return ds
    }
}
