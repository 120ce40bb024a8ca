import ArgumentParser
import Foundation
import ModelIO
import NN
import Tensor

/// `--input-shape C,H,W`: positive integers separated by commas (the per-sample shape of an
/// ONNX model whose input dimensions are symbolic).
func parseInputShape(_ text: String) throws -> [Int] {
    let dims = text.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !dims.isEmpty, dims.allSatisfy({ ($0 ?? 0) > 0 }) else {
        throw ValidationError("--input-shape expects positive integers separated by commas (C,H,W), found '\(text)'")
    }
    return dims.map { $0! }
}

/// `MODEL [--arch SPEC]`: a model file and, for weight-only files, its architecture.
struct ModelOptions: ParsableArguments {
    @Argument(help: "Model file: .npz, .safetensors or .h5 state dict (with --arch), Keras .h5 or .keras, or ONNX .onnx.")
    var model: String

    @Option(name: .customLong("arch"), help: "Architecture: a preset (`bss presets` lists them: heo2019-, akamaster-, repdistiller-, torchvision-...[@SIZE], mlp:I-H-C) or a JSON spec path.")
    var arch: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Per-sample input shape of an ONNX model whose input dimensions are symbolic.", valueName: "C,H,W"),
            transform: parseInputShape)
    var inputShape: [Int]?

    func load() throws -> Model { try ModelLoader.load(model, arch: arch, inputShape: inputShape) }
}

/// `--data DATA` and how to read it.
struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Data set: .npz or .h5 with x (samples first) and y (labels); CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin, or a folder of data_batch_*.bin); CIFAR-100 binaries (train.bin, test.bin, or their folder); downsampled ImageNet .npz batches (train_data_batch_N.npz, val_data.npz, or their folder); PNG/JPEG images (one file, a folder of them, one sub-folder per class, or Tiny ImageNet); MNIST/Fashion-MNIST IDX images (…-images-idx3-ubyte[.gz], labels file found next to it). See docs/data-formats.md.",
                               valueName: "data"))
    var data: String

    @OptionGroup var input: InputOptions

    var scale: Float? { input.scale }
    var normalize: String? { input.normalize }
    var reading: DataReadOptions { input.reading }

    func load(for model: Model) throws -> DataSet {
        let shape = model.graph.inputShape
        var options = input.reading.options
        options.channels = shape.count == 3 ? shape[0] : nil   // image files take the model's colour mode
        let ds = try DataLoader.load(data, stored: input.dataLayout ?? model.inputLayout, preprocessing: try input.preprocessing(),
                                     options: options)
            .conformed(to: shape, layout: model.inputLayout)
        try ds.validate(inputShape: shape, classes: model.classes)
        noteSkipped(ds.skippedImages, file: data)
        noteGrayConverted(ds.grayConverted, file: data)
        return ds
    }
}

extension DataOptions {
    /// The data as a `DataStream` for `model`: read a chunk at a time, image files decoded with
    /// the model's channel count.
    func stream(for model: Model, chunkSize: Int = DataLoader.defaultChunkSize) throws -> DataStream {
        let shape = model.graph.inputShape
        return try DataLoader.stream(data, stored: input.dataLayout ?? model.inputLayout, preprocessing: try input.preprocessing(),
                                     options: input.reading.options, channels: shape.count == 3 ? shape[0] : nil,
                                     chunkSize: chunkSize)
    }

    /// Calls `body` with each chunk of `stream`, conformed and validated as `load` does, and
    /// the number of samples before it; returns the labels of all samples (nil for unlabelled
    /// data). Skipped images are noted on stderr.
    func forEachChunk(_ stream: DataStream, for model: Model, _ body: (DataSet, Int) throws -> Void) throws -> [Int]? {
        try scanChunks(stream, for: model, until: { try body($0, $1); return false })
    }

    /// As `forEachChunk(_:for:_:)`, stopping after the chunk for which `body` returns true.
    func scanChunks(_ stream: DataStream, for model: Model, until body: (DataSet, Int) throws -> Bool) throws -> [Int]? {
        let shape = model.graph.inputShape
        var labels: [Int]? = []
        var done = 0
        var grayConverted = 0
        let skipped = try stream.scanChunks(until: { chunk in
            grayConverted += chunk.grayConverted
            let ds = chunk.conformed(to: shape, layout: model.inputLayout)
            try ds.validate(inputShape: shape, classes: model.classes)
            if let y = ds.y, labels != nil { labels! += y } else { labels = nil }
            let stop = try body(ds, done)
            done += ds.count
            return stop
        })
        noteSkipped(skipped, file: data)
        noteGrayConverted(grayConverted, file: data)
        return labels
    }

    /// The model's logits for every sample of `stream`, computed a chunk at a time, and the
    /// labels; `check` sees each chunk first.
    func predict(_ model: Model, _ stream: DataStream, batchSize: Int, progress: Progress,
                 check: (DataSet) throws -> Void = { _ in }) throws -> (logits: Tensor, labels: [Int]?) {
        var logits: [Float] = []
        let labels = try forEachChunk(stream, for: model) { ds, before in
            try check(ds)
            logits += model.graph.predict(ds.x, batchSize: batchSize) { progress.update(before + $0) }.data
        }
        let classes = max(model.graph.outputShape.reduce(1, *), 1)
        return (Tensor(shape: [logits.count / classes] + model.graph.outputShape, data: logits), labels)
    }
}

/// `--label`, `--image-size`, `--class-order`, `--skip-bad-images`: what to read from a data
/// file, shared by every command that reads `DATA`.
struct DataReadOptions: ParsableArguments {
    @Option(help: ArgumentHelp("CIFAR-100 label to use: fine (100 classes, the default) or coarse (20 superclasses). An error for other formats.",
                               valueName: "fine|coarse"),
            transform: { try DataLoader.ReadOptions.label($0) })
    var label: DataLoader.CIFARLabel?

    @Option(help: ArgumentHelp("Resize every image (PNG/JPEG files, image folders, Tiny ImageNet) to HEIGHT x WIDTH pixels, bilinear, giving the bytes of Pillow's img.resize((W, H), Image.BILINEAR). An error for other formats.",
                               valueName: "H,W"),
            transform: { try DataLoader.ReadOptions.imageSize($0) })
    var imageSize: DataLoader.ImageSize?

    @Option(help: ArgumentHelp("Tiny ImageNet label numbering: wnids (label = line of wnids.txt) or sorted (sorted wnids, torchvision's ImageFolder on train/). Required when wnids.txt is not sorted; an error for other formats.",
                               valueName: "wnids|sorted"),
            transform: { try DataLoader.ReadOptions.classOrder($0) })
    var classOrder: DataLoader.ClassOrder?

    @Flag(help: "Leave out images that cannot be decoded (truncated, corrupt, empty, too large, not an image) instead of stopping with an error; their count and first names are reported.")
    var skipBadImages = false

    var options: DataLoader.ReadOptions {
        .init(cifarLabel: label, imageSize: imageSize, classOrder: classOrder, skipBadImages: skipBadImages)
    }
}

/// Says on stderr that colour images were converted to gray for a 1-channel model.
func noteGrayConverted(_ count: Int, file: String) {
    guard count > 0 else { return }
    note("bss: note: converted \(count) colour image\(count == 1 ? "" : "s") of \(file) to gray for the model's 1-channel input, as Pillow's convert(\"L\") does (ITU-R 601-2 luma)")
}

/// The stderr note for images `--skip-bad-images` left out of `file`.
func noteSkipped(_ skipped: [String], file: String) {
    guard !skipped.isEmpty else { return }
    let listed = skipped.prefix(5).joined(separator: ", ") + (skipped.count > 5 ? ", …" : "")
    note("bss: note: skipped \(skipped.count) image\(skipped.count == 1 ? "" : "s") of \(file) that could not be decoded (--skip-bad-images): \(listed)")
}
