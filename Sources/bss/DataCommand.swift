import ArgumentParser
import Foundation
import ModelIO
import Tensor

/// `bss data`: look at a data set, or rewrite it as standard x/y arrays.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Inspect a data set, or convert it to .npz/.h5 arrays x, y (+ class_names).",
        discussion: """
            DATA is any data set --data accepts; the formats and their layouts are in docs/data-formats.md.

            Examples:
              bss data inspect cifar-10-batches-bin/test_batch.bin
              bss data convert cifar-10-batches-bin/test_batch.bin out/cifar10-test.npz --layout nhwc
            """,
        subcommands: [DataInspect.self, DataConvert.self])
}

/// `bss data inspect DATA`: what a data set is, as read.
struct DataInspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show the format recognised, sample count, per-sample shape, classes with counts and names, value range.",
        discussion: """
            Example:
              bss data inspect cifar-100-binary/test.bin --label coarse --json
            """)

    @Argument(help: "Data set (any format --data accepts).") var data: String
    @OptionGroup var reading: DataReadOptions
    @OptionGroup var safety: InputSafetyOptions
    @Flag(help: "Print JSON instead of text.") var json = false

    func run() throws {
        safety.apply()
        let raw = try DataLoader.read(data, options: reading.options)
        let x = raw.x
        let per = Array(x.shape.dropFirst())
        let (lo, hi) = raw.valueRange ?? (Float.nan, Float.nan)
        var counts: [Int64: Int] = [:]
        for l in raw.y ?? [] { counts[l, default: 0] += 1 }
        let labels = counts.keys.sorted()
        let known = Set(labels).union((raw.classNames ?? []).indices.map(Int64.init)).sorted()
        func name(_ l: Int64) -> String? {
            guard let names = raw.classNames, l >= 0, l < names.count else { return nil }
            return names[Int(l)]
        }
        let layout = raw.layout.map { $0.rawValue.uppercased() + " (fixed by the format)" }
            ?? "as stored (a model reads it in its own layout, or as `bss eval --data-layout` says)"
        if json {
            let classes: [[String: Any]] = known.map { l in
                var c: [String: Any] = ["label": l, "count": counts[l] ?? 0]
                if let n = name(l) { c["name"] = n }
                return c
            }
            say(jsonString(["file": data, "format": raw.format.rawValue, "description": raw.description,
                            "samples": x.batch, "sample_shape": per, "layout": raw.layout.map { $0.rawValue as Any } ?? NSNull(),
                            "values": ["min": lo, "max": hi, "stored_as": raw.xIsInteger ? "integers" : "floats"],
                            "labelled": raw.y != nil, "classes": classes, "class_names": raw.classNames.map { $0 as Any } ?? NSNull(),
                            "class_order": raw.classOrder.map { $0.rawValue as Any } ?? NSNull(), "skipped_images": raw.skippedImages]))
            return
        }
        say("data:         \(data)")
        say("format:       \(raw.description)")
        say("samples:      \(x.batch)")
        say("sample shape: \(per), layout \(layout)")
        say("values:       \(lo) ... \(hi) (stored as \(raw.xIsInteger ? "integers" : "floats"), before `bss eval --scale/--normalize`)")
        if let order = raw.classOrder {
            say("class order:  \(order.rawValue) (" + (order == .wnids ? "label = line of wnids.txt" : "label = position among the sorted wnids, as torchvision's ImageFolder") + ")")
        }
        if !raw.skippedImages.isEmpty {
            say("skipped:      \(raw.skippedImages.count) image(s) that could not be decoded: " + raw.skippedImages.prefix(5).joined(separator: ", ") + (raw.skippedImages.count > 5 ? ", …" : ""))
        }
        guard raw.y != nil else {
            say("labels:       none" + (raw.classNames.map { " (\($0.count) class names)" } ?? ""))
            return
        }
        say("classes:      \(labels.count) present (labels \(labels.first.map(String.init) ?? "-")...\(labels.last.map(String.init) ?? "-"))"
            + (raw.classNames.map { ", \($0.count) class names" } ?? ", no class names"))
        let w = String(labels.last ?? 0).count
        for l in labels {
            let label = String(repeating: " ", count: max(0, w - String(l).count)) + String(l)
            say("  \(label): \(counts[l] ?? 0)" + (name(l).map { "  \($0)" } ?? ""))
        }
        let unused = known.count - labels.count
        if unused > 0 { say("  (\(unused) named classes have no samples)") }
    }
}

/// `bss data convert DATA OUT`: standard x/y arrays any reader (numpy, h5py, bss) takes.
struct DataConvert: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a data set as .npz or .h5 arrays x (uint8 pixels stay uint8), y (int64) and class_names, atomically.",
        discussion: """
            Missing folders of OUT are created.

            Example:
              bss data convert train-images-idx3-ubyte.gz out/mnist-train.npz
            """)

    @Argument(help: "Data set (any format --data accepts).") var data: String
    @Argument(help: "Output: .npz or .h5/.hdf5.") var out: String
    @OptionGroup var reading: DataReadOptions
    @OptionGroup var safety: InputSafetyOptions
    @Option(help: "Layout to write images of a format with its own layout (CIFAR, ImageNet, IDX: NCHW) in: nchw (default) or nhwc (what Keras models read).")
    var layout: DataLayout?

    func validate() throws {
        let ext = URL(fileURLWithPath: out).pathExtension.lowercased()
        guard ["npz", "h5", "hdf5"].contains(ext) else { throw ValidationError("OUT must end in .npz, .h5 or .hdf5") }
    }

    func run() throws {
        safety.apply()
        let url = URL(fileURLWithPath: out)
        guard url.pathExtension.lowercased() == "npz" else { return try writeWhole(url) }
        // .npz: a chunk at a time (DataStreamWriter).
        let written = try DataStreamWriter.writeNpz(data, options: reading.options, to: url, layout: layout)
        noteSkipped(written.skipped, file: data)
        report(samples: written.samples, images: written.layout, rank4: written.images, labels: written.labels,
               classNames: written.classNames, description: written.description)
    }

    /// .h5: the set read whole, then written (`DataWriter`).
    func writeWhole(_ url: URL) throws {
        let raw = try DataLoader.read(data, options: reading.options)
        noteSkipped(raw.skippedImages, file: data)
        let shape = raw.x.shape
        let written = try DataWriter.write(raw, to: url, layout: layout)
        report(samples: shape[0], images: written, rank4: shape.count == 4, labels: raw.y?.count, classNames: raw.classNames?.count,
               description: raw.description)
    }

    func report(samples: Int, images written: DataLayout?, rank4: Bool, labels: Int?, classNames: Int?, description: String) {
        var parts = ["x \(samples) samples" + (rank4 ? (written.map { " (\($0.rawValue.uppercased()))" } ?? " (as stored)") : "")]
        if let labels { parts.append("y \(labels) labels") }
        if let classNames { parts.append("class_names \(classNames)") }
        note("wrote \(out): " + parts.joined(separator: ", ") + " (from \(description))")
        if written == .nchw && rank4 {
            note("note: images are NCHW; a Keras model reads them with `bss eval --data-layout nchw` (or convert with --layout nhwc)")
        }
    }
}
