import ArgumentParser
import Cluster
import Boundary
import Foundation
import ModelIO
import NN
import Tensor

/// `bss similarity A B --data DATA` (or `--a-bss F --b-bss G`): how close two models' decision
/// boundaries are, MagSim and AngSim (docs/algorithm.md, "Boundary similarity").
struct Similarity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare the decision boundaries of two models: MagSim and AngSim over boundary supporting samples.",
        discussion: """
            Base samples are the first --limit rows of DATA that both A and B classify correctly. For every \
            (base sample, target class) pair the BSS of A and of B are searched from the same start with the \
            same algorithm and parameters (paper mode by default). Over the pairs P where both searches were \
            accepted, with d = BSS - base sample:
              MagSim = mean over P of min(||d_A||, ||d_B||) / max(||d_A||, ||d_B||)
              AngSim = mean over P of max(0, cos(d_A, d_B))
            Both lie in [0, 1]; a model against itself scores 1 and 1. A and B may come from different \
            frameworks: each reads DATA in its own native layout (or --data-layout) and the perturbations are \
            compared element by element in DATA's own order. Targets 'sampled' and 'runner-up' use A's softmax \
            (make A the reference model, e.g. the teacher).
            With --a-bss F --b-bss G, two BSS data sets written by `bss generate` for the same base samples and \
            targets are compared instead (no models or data needed).
            --json prints a report following Schemas/similarity-report.schema.json; --plot writes an SVG with \
            the distance distributions and a scatter of ||d_A|| against ||d_B|| coloured by cosine.

            Examples:
              bss similarity teacher.keras student.npz --b-arch mlp:64-48-10 --data test.npz --limit 200
              bss similarity --a-bss teacher-bss.h5 --b-bss student-bss.h5 --json
            """)

    @Argument(help: "Model A (the reference, e.g. the teacher): .npz/.safetensors/.h5 state dict (with --a-arch), Keras .h5 or .keras.")
    var a: String?

    @Argument(help: "Model B, any importable model with the same classes and as many input values.")
    var b: String?

    @Option(name: .customLong("a-arch"), help: "Architecture of a state-dict A: a preset or a JSON spec path.")
    var aArch: String?

    @Option(name: .customLong("b-arch"), help: "Architecture of a state-dict B: a preset or a JSON spec path.")
    var bArch: String?

    @Option(name: .customLong("input-shape"), help: ArgumentHelp("Per-sample input shape of ONNX models A and B whose input dimensions are symbolic (ignored for other formats).", valueName: "C,H,W"),
            transform: parseInputShape)
    var inputShape: [Int]?

    @Option(name: .customLong("a-bss"), help: ArgumentHelp("Compare BSS data sets instead of models: A's (.h5/.npz from bss generate).", valueName: "file"))
    var aBSS: String?

    @Option(name: .customLong("b-bss"), help: ArgumentHelp("B's BSS data set, built from the same base samples and targets.", valueName: "file"))
    var bBSS: String?

    @OptionGroup var data: SimilarityDataOptions
    @OptionGroup var pairOptions: PairOptions
    @OptionGroup var seedOption: SeedOption
    @OptionGroup var search: BSSOptions
    @OptionGroup var batch: BatchSizeOption

    @Flag(help: "Print the report as JSON (Schemas/similarity-report.schema.json).") var json = false
    @Flag(help: "With --json: add the per-pair distances and cosines (key pairs), so `bss report` can plot them.") var pairs = false

    @Option(help: ArgumentHelp("Write an SVG plot of the distances and cosines (missing folders are created).", valueName: "out.svg"))
    var plot: String?

    @OptionGroup var runtime: RuntimeOptions
    @OptionGroup var safety: InputSafetyOptions

    var comparesDatasets: Bool { aBSS != nil || bBSS != nil }
    var seed: UInt64? { seedOption.seed }
    var limit: Int? { pairOptions.limit }
    var batchSize: Int { batch.value() }

    func validate() throws {
        if pairs && !json { throw ValidationError("--pairs adds the per-pair values to the --json report; give --json too") }
        if let plot, !plot.lowercased().hasSuffix(".svg") { throw ValidationError("--plot must name an .svg file, found '\(plot)'") }
        if comparesDatasets {
            guard aBSS != nil, bBSS != nil else { throw ValidationError("give both --a-bss and --b-bss") }
            let named: [(String, Bool)] = [("model A", a != nil), ("model B", b != nil), ("--a-arch", aArch != nil),
                                           ("--b-arch", bArch != nil), ("--input-shape", inputShape != nil), ("--data", data.data != nil),
                                           ("--label", data.input.reading.label != nil), ("--targets", pairOptions.targets != nil),
                                           ("--limit", limit != nil), ("--seed", seed != nil), ("--per-sample", pairOptions.perSample != nil)]
            let extra = named.filter(\.1).map(\.0) + search.given
            if !extra.isEmpty {
                throw ValidationError("\(extra.joined(separator: ", ")) cannot be used with --a-bss/--b-bss: the data sets already fix the models, pairs and search")
            }
            return
        }
        guard a != nil, b != nil else { throw ValidationError("give two models A B (or --a-bss F --b-bss G)") }
        guard data.data != nil else { throw ValidationError("--data is required to compare two models") }
        _ = try pairOptions.choice(default: .all)
        _ = try search.parameters()
    }

    func run() throws {
        runtime.apply()
        safety.apply()
        // Under mpirun the pairs are split over the ranks; rank 0 reports (docs/mpi.md).
        let world = try MPISupport.start(runtime)
        if let plot {
            try OutputPath.checkNotAnInput(plot, inputs: [a, b, aArch, bArch, aBSS, bBSS, data.data])
            // Fail before the searches, not after them.
            try OutputPath.checkCanCreate(plot)
        }
        let start = Date()
        var report = try comparesDatasets ? compareDatasets() : compareModels()
        report.seconds = Date().timeIntervalSince(start)
        if let world, !world.isRoot { return }
        for w in report.warnings { note("bss: warning: \(w)") }
        if let plot {
            let svg = SimilarityPlot.svg(report.result, nameA: report.a.bssFile ?? report.a.file ?? report.a.architecture,
                                         nameB: report.b.bssFile ?? report.b.file ?? report.b.architecture)
            try AtomicFile.write(to: URL(fileURLWithPath: plot)) { try Data(svg.utf8).write(to: $0) }
            note("wrote \(plot): SVG plot")
        }
        if json {
            var object = report.jsonObject
            if pairs { object["pairs"] = report.result.pairsJSONObject }
            say(jsonString(object))
        } else {
            report.lines.forEach(say)
        }
    }

    // MARK: - Two models

    private func compareModels() throws -> SimilarityReport {
        let modelA = try ModelLoader.load(a!, arch: aArch, archFlag: "--a-arch", inputShape: inputShape)
        let modelB = try ModelLoader.load(b!, arch: bArch, archFlag: "--b-arch", inputShape: inputShape)
        guard modelA.classes == modelB.classes else {
            throw UserError("\(a!) has \(modelA.classes) classes and \(b!) has \(modelB.classes): boundaries can only be compared between models with the same classes")
        }
        let inA = modelA.graph.inputShape, inB = modelB.graph.inputShape
        guard inA.reduce(1, *) == inB.reduce(1, *) else {
            throw UserError("the inputs do not match: \(a!) takes \(inA) (\(inA.reduce(1, *)) values), \(b!) takes \(inB) (\(inB.reduce(1, *)) values)")
        }
        let choice = try pairOptions.choice(default: .all)
        let perSampleCount = pairOptions.perSample ?? 1
        if choice == .sampled && perSampleCount >= modelA.classes {
            throw UserError("--per-sample \(perSampleCount) must be below the number of classes (\(modelA.classes))")
        }
        let parameters = try search.parameters()

        // Each model reads the same file in its own layout; `aligned` maps both to its order.
        let file = data.data!
        // Image files take the models' colour mode (Pillow's convert("L")/convert("RGB")); the two
        // models read the same number of values, so one channel count serves both.
        var reading = data.input.reading.options
        reading.channels = [inA, inB].first { $0.count == 3 }?.first
        let raw = try DataLoader.read(file, options: reading)
        noteSkipped(raw.skippedImages, file: file)
        noteGrayConverted(raw.grayConverted, file: file)
        let (xA, storedA) = try data.samples(raw, file: file, for: modelA)
        let (xB, storedB) = try data.samples(raw, file: file, for: modelB)
        guard let labels = xA.y else {
            throw ModelIOError(.notFound, file: file, location: "y", "similarity needs labels (base samples are those both models classify correctly): no array 'y'")
        }
        let rawShape = Array(raw.x.shape.dropFirst())
        guard let orderA = SimilarityAlignment.dataOrder(rawShape: rawShape, fixedLayout: raw.layout, stored: storedA,
                                                         inputShape: inA, layout: modelA.inputLayout),
              let orderB = SimilarityAlignment.dataOrder(rawShape: rawShape, fixedLayout: raw.layout, stored: storedB,
                                                         inputShape: inB, layout: modelB.inputLayout),
              let alignment = SimilarityAlignment(aToCommon: orderA, bToCommon: orderB) else {
            throw UserError("\(file): the samples cannot be lined up between \(a!) (input \(inA)) and \(b!) (input \(inB))")
        }

        let engine = BoundarySimilarity(a: modelA.graph, b: modelB.graph, parameters: parameters)
        engine.batchSize = batchSize
        let maxBase = limit ?? 1000
        let scan = Progress(total: xA.count, label: "base samples", unit: "rows")
        let base = engine.baseSamples(xA: xA.x, xB: xB.x, labels: labels, limit: maxBase) { scan.update($0) }
        scan.finish()
        guard !base.rows.isEmpty else {
            throw UserError("\(file): no sample is classified correctly by both models (A: \(base.correctA) of \(base.scanned) correct, B: \(base.correctB) of \(base.scanned)); check --data-layout, --scale and --normalize")
        }
        var generator = SeededGenerator(seed: seed ?? 0)
        let pairs = PairSelection.pairs(rows: base.rows, baseClass: base.rows.map { labels[$0] }, logits: base.logitsA,
                                        rule: choice.rule(perSample: perSampleCount), generator: &generator)
        let bar: Progress = Progress(total: 2 * pairs.count, label: "similarity", unit: "searches")
        engine.progress = { (done: Int, _: Int) -> Void in bar.update(done) }
        let result = MPIWorld.current.map { MPISupport.compare($0, engine: engine, xA: xA.x, xB: xB.x, pairs: pairs, alignment: alignment) }
            ?? engine.compare(xA: xA.x, xB: xB.x, pairs: pairs, alignment: alignment)
        bar.finish()

        let selection = SimilarityReport.Selection(data: file, samples: xA.count, scanned: base.scanned, correctA: base.correctA,
                                                   correctB: base.correctB, baseSamples: base.rows.count, limit: maxBase,
                                                   targets: choice.rawValue, perSample: perSampleCount, seed: seed ?? 0)
        return SimilarityReport(tool: "bss \(BSSCommand.version)", a: side(modelA), b: side(modelB), source: "models",
                                selection: selection, parameters: parameters, result: result, seconds: 0)
    }

    private func side(_ m: Model) -> SimilarityReport.Side {
        .init(file: m.file, architecture: m.architectureName, format: m.format.rawValue, inputShape: m.graph.inputShape,
              inputLayout: m.inputLayout.rawValue)
    }

    // MARK: - Two BSS data sets

    private func compareDatasets() throws -> SimilarityReport {
        let fileA = aBSS!, fileB = bBSS!
        let dsA = try BSSDataset.read(URL(fileURLWithPath: fileA)), dsB = try BSSDataset.read(URL(fileURLWithPath: fileB))
        let c = try BoundarySimilarity.compare(dsA, dsB, fileA: fileA, fileB: fileB)
        func side(_ d: BSSDataset, _ file: String) -> SimilarityReport.Side {
            .init(file: d.meta.teacher.file, architecture: d.meta.teacher.architecture, format: d.meta.teacher.format,
                  inputShape: d.meta.teacher.inputShape, inputLayout: d.meta.inputLayout, bssFile: file)
        }
        return SimilarityReport(tool: "bss \(BSSCommand.version)", a: side(dsA, fileA), b: side(dsB, fileB),
                                source: "bss-datasets", selection: nil, parameters: c.parameters, result: c.result,
                                seconds: 0, warnings: c.warnings)
    }
}

/// `--data` and how to read it, for two models at once (`DataOptions` with `--data` optional,
/// since BSS data sets need none).
struct SimilarityDataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Labelled data both models read: .npz or .h5 with x and y; CIFAR-10/CIFAR-100 binaries; downsampled ImageNet .npz; PNG/JPEG image folders; MNIST IDX images.",
                               valueName: "data"))
    var data: String?

    @OptionGroup var input: InputOptions

    /// The samples of `raw` as `model` reads them (engine layout, conformed and validated), and
    /// the layout the file's images were read in.
    func samples(_ raw: DataLoader.RawData, file: String, for model: Model) throws -> (DataSet, DataLayout) {
        let stored = input.dataLayout ?? model.inputLayout
        let p = try input.preprocessing()
        let ds = try DataLoader.make(raw, file: file, stored: stored, preprocessing: p)
            .conformed(to: model.graph.inputShape, layout: model.inputLayout)
        try ds.validate(inputShape: model.graph.inputShape, classes: model.classes)
        return (ds, stored)
    }
}

