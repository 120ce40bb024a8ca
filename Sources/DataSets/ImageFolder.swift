import Foundation
import Tensor
import ModelCore
import NumPy

/// Data sets of image files (JPEG, PNG), decoded by `ImageDecoder`:
///
/// - a class-per-folder tree `DATA/<class>/…/<image>` (torchvision's `ImageFolder` layout):
///   classes are the sub-folders sorted by name, label = position in that order; images are
///   collected recursively and taken in sorted path order;
/// - a folder holding only images: an unlabelled set (for `predict`), sorted by name;
/// - one image file: one unlabelled sample.
///
/// Every image must have the same width and height unless `--image-size` resizes them all
/// (`ImageResize`); a file that cannot be decoded is an error, or left out with
/// `--skip-bad-images`. Files whose extension is not an image's (`notes.txt`, Tiny ImageNet's
/// `*_boxes.txt`) are ignored, as torchvision's `ImageFolder` does. Colour modes follow the
/// model's input channels when known (`ImageColour`): for a 1-channel model colour images
/// become gray (Pillow's `convert("L")`), for a 3-channel one gray images are repeated into
/// R, G and B (`convert("RGB")`); without a model, grayscale images give one channel unless
/// any image is colour. Samples come out NCHW with values 0–255.
enum ImageFolder {
    struct Item {
        var url: URL
        var label: Int64?
    }

    /// The images under `folder` (recursively, hidden entries skipped), sorted by path; an
    /// image type that is not decoded is an error rather than a silently missing sample.
    static func images(under folder: URL) throws -> [URL] {
        let paths = (try? FileManager.default.subpathsOfDirectory(atPath: folder.path)) ?? []
        var found: [URL] = []
        for relative in paths.sorted() where !relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) {
            let url = folder.appendingPathComponent(relative)
            let ext = url.pathExtension.lowercased()
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if ImageDecoder.unsupportedExtensions.contains(ext) {
                throw ModelIOError(.unsupported, file: url.relativePath, "'.\(ext)' images are not read; convert them to PNG or JPEG")
            }
            if ImageDecoder.extensions.contains(ext) { found.append(url) }
        }
        return found
    }

    /// Non-hidden sub-folders of `folder`, sorted by name.
    static func subfolders(_ folder: URL) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".")
                && FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path, isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    /// `folder` as a class-per-folder tree or a flat folder of images; nil if it holds no images.
    static func list(_ folder: URL, file: String) throws -> ImageList? {
        let classes = subfolders(folder)
        let direct = try images(under: folder).filter { !$0.path.dropFirst(folder.path.count + 1).contains("/") }
        var perClass: [[URL]] = []
        for c in classes { perClass.append(try images(under: folder.appendingPathComponent(c, isDirectory: true))) }
        let labelled = perClass.contains { !$0.isEmpty }
        if !direct.isEmpty && labelled {
            throw ModelIOError(.mismatch, file: file,
                               "holds images both directly and in sub-folders; a class-per-folder data set keeps every image in its class's folder")
        }
        if !direct.isEmpty {
            return ImageList(items: direct.map { Item(url: $0, label: nil) }, classNames: nil, file: file,
                             description: "image folder (\(direct.count) unlabelled images)", format: .imageFolder)
        }
        guard labelled else { return nil }
        if let empty = perClass.firstIndex(where: \.isEmpty) {
            throw ModelIOError(.notFound, file: folder.appendingPathComponent(classes[empty]).relativePath,
                               "class folder '\(classes[empty])' holds no PNG or JPEG images")
        }
        let items = perClass.enumerated().flatMap { c, urls in urls.map { Item(url: $0, label: Int64(c)) } }
        return ImageList(items: items, classNames: classes, file: file,
                         description: "image folder (\(classes.count) classes from sub-folder names)", format: .imageFolder)
    }

    /// How many skipped names a description lists before "…".
    static let skippedListed = 5

    /// Decodes `items` into x `[N, C, H, W]` (values 0–255) and their labels, resizing each
    /// image to `options.imageSize` when given; with `options.skipBadImages` an image that
    /// cannot be decoded is left out and listed in `skippedImages`.
    /// `channels`: the channel count to produce (a model's), or nil for 3 when any image is
    /// colour, else 1. Asked for 1, colour images are converted to gray (Pillow's
    /// `convert("L")`) before resizing, and counted in `grayConverted`.
    static func assemble(_ items: [Item], classNames: [String]?, file: String, description: String,
                         format: DataLoader.DataFormat, options: DataLoader.ReadOptions,
                         channels: Int? = nil, emptyAllowed: Bool = false) throws -> DataLoader.RawData {
        guard !items.isEmpty else { throw ModelIOError(.notFound, file: file, "no images") }
        // Images give gray or RGB; any other channel count would mean guessing which planes to use.
        if let channels, channels != 1 && channels != 3 {
            throw ModelIOError(.mismatch, file: file, location: "input",
                               "the model reads \(channels)-channel inputs, but images give 1 (grayscale) or 3 (RGB) channels")
        }
        var decoded: [DecodedImage] = []
        var kept: [Item] = []
        var skipped: [String] = []
        var firstError: Error?
        var grayConverted = 0
        decoded.reserveCapacity(items.count)
        for item in items {
            var image: DecodedImage
            do {
                image = try ImageDecoder.decode(item.url)
            } catch let error as ModelIOError where options.skipBadImages {
                skipped.append(item.url.relativePath)
                firstError = firstError ?? error
                continue
            }
            // Convert first, then resize: the order of `Image.open(f).convert("L").resize(…)`.
            if channels == 1 && image.channels == 3 {
                image = ImageColour.gray(image)
                grayConverted += 1
            }
            if let size = options.imageSize {
                image = ImageResize.resize(image, height: size.height, width: size.width)
            } else if let d = decoded.first, d.width != image.width || d.height != image.height {
                throw ModelIOError(.mismatch, file: item.url.relativePath,
                                   "\(image.width)x\(image.height) pixels (WxH), but \(kept[0].url.relativePath) has \(d.width)x\(d.height); pass --image-size H,W to resize every image (bilinear, as Pillow)")
            }
            decoded.append(image)
            kept.append(item)
        }
        // Nothing left to skip to: the first image's own error says the most (a stream's chunk
        // may be empty, the stream then decides).
        if decoded.isEmpty && emptyAllowed {
            var raw = DataLoader.RawData(x: Tensor(shape: [0, channels ?? 1, 1, 1]), xIsInteger: true, y: items[0].label == nil ? nil : [],
                                         layout: .nchw, description: description, classNames: classNames, format: format)
            raw.skippedImages = skipped
            raw.grayConverted = grayConverted
            return raw
        }
        guard let first = decoded.first else { throw firstError ?? ModelIOError(.notFound, file: file, "no images") }
        let (h, w) = (first.height, first.width)
        let c = channels ?? (decoded.contains { $0.channels == 3 } ? 3 : 1)
        let plane = h * w
        var pixels = [Float](repeating: 0, count: decoded.count * c * plane)
        pixels.withUnsafeMutableBufferPointer { out in
            for (n, image) in decoded.enumerated() {
                let base = n * c * plane
                // HWC bytes -> CHW floats; a gray image fills every channel.
                for ch in 0..<c {
                    let source = image.channels == 1 ? 0 : ch
                    for p in 0..<plane { out[base + ch * plane + p] = Float(image.pixels[p * image.channels + source]) }
                }
            }
        }
        let labels = kept[0].label == nil ? nil : kept.map { $0.label ?? 0 }
        var what = description
        if c == 3 && decoded.contains(where: { $0.channels == 1 }) { what += ", grayscale images repeated into RGB" }
        if grayConverted > 0 {
            what += ", \(grayConverted) colour image\(grayConverted == 1 ? "" : "s") converted to gray (Pillow's convert(\"L\"))"
        }
        if let size = options.imageSize { what += ", resized to \(size.height)x\(size.width) (HxW, bilinear as Pillow)" }
        if !skipped.isEmpty {
            let listed = skipped.prefix(skippedListed).joined(separator: ", ") + (skipped.count > skippedListed ? ", …" : "")
            what += ", \(skipped.count) bad image\(skipped.count == 1 ? "" : "s") skipped (\(listed))"
        }
        var raw = DataLoader.RawData(x: Tensor(shape: [decoded.count, c, h, w], data: pixels), xIsInteger: true, y: labels,
                                     layout: .nchw, description: what, classNames: classNames, format: format)
        raw.skippedImages = skipped
        raw.grayConverted = grayConverted
        return raw
    }
}

/// The image files of a data set, listed (and labelled) but not decoded yet.
struct ImageList {
    var items: [ImageFolder.Item]
    var classNames: [String]?
    var file: String
    var description: String
    var format: DataLoader.DataFormat
    var classOrder: DataLoader.ClassOrder?

    /// Decodes `items[rows]` (all by default) into arrays (`ImageFolder.assemble`); `channels`
    /// nil takes `options.channels`.
    func assemble(_ rows: Range<Int>? = nil, options: DataLoader.ReadOptions, channels: Int? = nil) throws -> DataLoader.RawData {
        var raw = try ImageFolder.assemble(Array(items[rows ?? items.indices]), classNames: classNames, file: file,
                                           description: description, format: format, options: options,
                                           channels: channels ?? options.channels,
                                           emptyAllowed: rows != nil)
        raw.classOrder = classOrder
        return raw
    }
}
