import ArgumentParser
import Foundation
import ModelIO

/// `bss convert IN OUT [--arch SPEC]`: rewrite a model in another file format.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model between PyTorch state dicts (.npz, .h5) and Keras files (.h5, .keras).",
        discussion: """
            The output format follows OUT's extension: .npz → PyTorch state dict; .h5 → Keras full model \
            for a model imported from Keras, else an HDF5 state dict (one dataset per key); .keras → Keras 3 \
            archive. --to state-dict / --to keras picks the other kind for .h5.
            A Keras model written as a state dict also gets its architecture as a JSON spec (OUT with the \
            extension .json, or --spec-out); load the pair with --arch SPEC.json.
            A preset/spec model written as a Keras file gets a generated Keras config (chain-like graphs of \
            Dense, Conv2D, BatchNorm, activations, pooling, Flatten, Dropout, Add, ZeroPadding; the Keras \
            model takes NHWC input). The CIFAR ResNets' option-A shortcut has no Keras form and is refused.
            Between state-dict files without --arch, the arrays are copied verbatim (bit for bit); with \
            --arch they are first loaded strictly into that architecture.
            Nothing is written when the model cannot be expressed in the target format, and every file \
            is written to a temporary file next to its target, then renamed into place.
            """)

    @Argument(help: "Input model: .npz or .h5 state dict (with --arch), Keras .h5 or .keras.")
    var input: String

    @Argument(help: "Output file: .npz, .h5 or .keras.")
    var output: String

    @Option(name: .customLong("arch"), help: "Architecture of a state-dict input: a preset (cifar-resnet8..110, mlp:I-H-C) or a JSON spec path.")
    var arch: String?

    @Option(help: ArgumentHelp("Where to write the architecture spec of a state-dict output (default: OUT with .json when one is needed).",
                               valueName: "path"))
    var specOut: String?

    @Option(help: ArgumentHelp("Kind of output where .h5 allows both: keras or state-dict (default: the model's own).",
                               valueName: "kind"))
    var to: String?

    func validate() throws {
        if let to, ModelWriter.Target(rawValue: to) == nil {
            throw ValidationError("--to must be \(ModelWriter.Target.allCases.map(\.rawValue).joined(separator: " or ")), found '\(to)'")
        }
    }

    func run() throws {
        let inURL = URL(fileURLWithPath: input), outURL = URL(fileURLWithPath: output)
        try OutputPath.checkDistinct(outputs: [output, specOut], inputs: [input, arch])
        guard FileManager.default.fileExists(atPath: input) else { throw InputFile.notFound(path: input) }
        let target = to.flatMap(ModelWriter.Target.init(rawValue:))
        // State dict to state dict without an architecture: a pure format change.
        if arch == nil, specOut == nil, target != .keras,
           StateDict.isStateDictFile(inURL), ["npz", "h5", "hdf5"].contains(outURL.pathExtension.lowercased()) {
            let sd = try StateDict.read(from: inURL)
            try sd.write(to: outURL)
            say("wrote \(output): PyTorch state dict (\(outURL.pathExtension.lowercased() == "npz" ? "npz" : "HDF5")), \(sd.entries.count) arrays")
            say("conversions:")
            say("  - none: keys, shapes and dtypes copied bit for bit (no --arch given, so not checked against an architecture)")
            return
        }
        let model = try ModelLoader.load(input, arch: arch)
        let report = try ModelWriter.write(model, to: outURL, specURL: specOut.map { URL(fileURLWithPath: $0) }, as: target)
        for file in report.files { say("wrote \(file.path): \(file.what)") }
        if !report.conversions.isEmpty {
            say("conversions:")
            for c in report.conversions { say("  - \(c)") }
        }
    }
}
