import ArgumentParser
import Foundation
import ModelIO

/// `bss convert IN OUT [--arch SPEC]`: rewrite a model in another file format.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert a model between PyTorch state dicts (.npz, .safetensors, .h5), Keras files (.h5, .keras) and ONNX (.onnx).",
        discussion: """
            The output format follows OUT's extension: .npz or .safetensors → PyTorch state dict; .h5 → Keras full model \
            for a model imported from Keras, else an HDF5 state dict (one dataset per key); .keras → Keras 3 \
            archive; .onnx → ONNX model (opset 17, BatchNorm kept as BatchNormalization, dynamic batch; any \
            model whose layers all have an ONNX form, others are refused naming the layer). --to state-dict / \
            --to keras picks the other kind for .h5.
            A Keras model written as a state dict also gets its architecture as a JSON spec (OUT with the \
            extension .json, or --spec-out); load the pair with --arch SPEC.json.
            A preset/spec model written as a Keras file gets a generated Keras config (chain-like graphs of \
            Dense, Conv2D, BatchNorm, activations, pooling, Flatten, Dropout, Add, ZeroPadding; the Keras \
            model takes NHWC input). The CIFAR ResNets' option-A shortcut has no Keras form and is refused.
            Between state-dict files without --arch, the arrays are copied verbatim (bit for bit; safetensors \
            BF16/F8 tensors are widened to float32 exactly); with --arch they are first loaded strictly into \
            that architecture. A .safetensors output keeps the __metadata__ of a .safetensors input and \
            gets format=pt when it names no format.
            Nothing is written when the model cannot be expressed in the target format, and every file \
            is written to a temporary file next to its target, then renamed into place; missing folders \
            are created. What was written and every conversion are reported on stderr.

            Example:
              bss convert teacher.keras out/teacher.npz
            """)

    @Argument(help: "Input model: .npz, .safetensors or .h5 state dict (with --arch), Keras .h5 or .keras, or ONNX .onnx.")
    var input: String

    @Argument(help: "Output file: .npz, .safetensors, .h5, .keras or .onnx.")
    var output: String

    @Option(name: .customLong("arch"), help: "Architecture of a state-dict input: a preset (`bss presets` lists them) or a JSON spec path.")
    var arch: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Per-sample input shape of an ONNX input whose input dimensions are symbolic.", valueName: "C,H,W"),
            transform: parseInputShape)
    var inputShape: [Int]?

    @Option(help: ArgumentHelp("Where to write the architecture spec of a state-dict output (default: OUT with .json when one is needed).",
                               valueName: "path"))
    var specOut: String?

    @Option(help: "Kind of output where .h5 allows both (default: the model's own).")
    var to: ModelWriter.Target?
    @OptionGroup var safety: InputSafetyOptions

    func run() throws {
        safety.apply()
        let inURL = URL(fileURLWithPath: input), outURL = URL(fileURLWithPath: output)
        try OutputPath.checkDistinct(outputs: [output, specOut], inputs: [input, arch])
        guard FileManager.default.fileExists(atPath: input) else { throw InputFile.notFound(path: input) }
        let target = to
        // State dict to state dict without an architecture: a pure format change.
        if arch == nil, specOut == nil, target != .keras,
           StateDict.isStateDictFile(inURL), ["npz", "safetensors", "h5", "hdf5"].contains(outURL.pathExtension.lowercased()) {
            var sd = try StateDict.read(from: inURL)
            try NonFinite.check(sd, file: input)
            let outExt = outURL.pathExtension.lowercased()
            let kept = sd.metadata
            if outExt == "safetensors" { sd.metadata = SafeTensors.metadataForWriting(kept) }
            try sd.write(to: outURL)
            let container = ["npz": "npz", "safetensors": "safetensors"][outExt] ?? "HDF5"
            note("wrote \(output): PyTorch state dict (\(container)), \(sd.entries.count) arrays")
            note("conversions:")
            if sd.readConversions.isEmpty {
                note("  - none: keys, shapes and dtypes copied bit for bit (no --arch given, so not checked against an architecture)")
            } else {
                for c in sd.readConversions { note("  - \(c)") }
                note("  - otherwise keys, shapes and dtypes copied bit for bit (no --arch given, so not checked against an architecture)")
            }
            if let metadata = sd.metadata, outExt == "safetensors" {
                note("  - safetensors __metadata__: " + metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
            } else if let kept, !kept.isEmpty {
                note("  - the input's safetensors __metadata__ (\(kept.count) entr\(kept.count == 1 ? "y" : "ies")) is not written: .\(outExt) has no place for it")
            }
            return
        }
        let model = try ModelLoader.load(input, arch: arch, archFlag: "--arch", inputShape: inputShape)
        let report = try ModelWriter.write(model, to: outURL, specURL: specOut.map { URL(fileURLWithPath: $0) }, as: target)
        for file in report.files { note("wrote \(file.path): \(file.what)") }
        if !report.conversions.isEmpty {
            note("conversions:")
            for c in report.conversions { note("  - \(c)") }
        }
    }
}
