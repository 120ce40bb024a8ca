/// The window geometry of a 2-D convolution or pooling over one sample `[C, H, W]`:
/// kernel `(kernelH, kernelW)`, stride `(strideH, strideW)`, zero padding per side, dilation
/// `(dilationH, dilationW)` (kernel taps `dilation` apart, PyTorch's `dilation`).
///
/// Output size follows PyTorch: `outHeight = ⌊(H + padTop + padBottom − spanH) / strideH⌋ + 1`
/// with the dilated kernel's extent `spanH = (kernelH − 1)·dilationH + 1` (likewise for width). Callers check `fits` before using a geometry; the functions below
/// assume it.
public struct ConvGeometry: Equatable, Hashable, Sendable {
    public var channels: Int, height: Int, width: Int
    public var kernelH: Int, kernelW: Int
    public var strideH: Int, strideW: Int
    public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
    public var dilationH: Int, dilationW: Int

    public init(channels: Int, height: Int, width: Int, kernelH: Int, kernelW: Int,
                strideH: Int = 1, strideW: Int = 1,
                padTop: Int = 0, padBottom: Int = 0, padLeft: Int = 0, padRight: Int = 0,
                dilationH: Int = 1, dilationW: Int = 1) {
        self.channels = channels; self.height = height; self.width = width
        self.kernelH = kernelH; self.kernelW = kernelW
        self.strideH = strideH; self.strideW = strideW
        self.padTop = padTop; self.padBottom = padBottom; self.padLeft = padLeft; self.padRight = padRight
        self.dilationH = dilationH; self.dilationW = dilationW
    }

    /// Extent of the dilated kernel: `(kernelH − 1)·dilationH + 1` rows.
    public var spanH: Int { (kernelH - 1) * dilationH + 1 }
    /// Extent of the dilated kernel: `(kernelW − 1)·dilationW + 1` columns.
    public var spanW: Int { (kernelW - 1) * dilationW + 1 }

    /// True when the kernel fits inside the padded input (at least one output position).
    public var fits: Bool {
        kernelH >= 1 && kernelW >= 1 && strideH >= 1 && strideW >= 1 && dilationH >= 1 && dilationW >= 1
            && height + padTop + padBottom >= spanH && width + padLeft + padRight >= spanW
    }
    public var outHeight: Int { (height + padTop + padBottom - spanH) / strideH + 1 }
    public var outWidth: Int { (width + padLeft + padRight - spanW) / strideW + 1 }
    /// Rows of the column matrix: `C · kernelH · kernelW`, ordered (c, ki, kj) like OIHW's I, H, W.
    public var colRows: Int { channels * kernelH * kernelW }
    /// Columns of the column matrix: output positions `outHeight · outWidth`, row-major.
    public var colColumns: Int { outHeight * outWidth }
    /// True when the column matrix *is* the input (1x1 kernel, stride 1, no padding).
    public var isPointwise: Bool {
        kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1
            && padTop == 0 && padBottom == 0 && padLeft == 0 && padRight == 0
    }

    /// True when output rows map to consecutive input rows of the same width (stride 1 and
    /// `outWidth == width`, e.g. 'same' padding): then each column-matrix row is one contiguous
    /// shifted block of the input plane, apart from entries that wrap around a row edge.
    public var isRowContiguous: Bool { strideH == 1 && strideW == 1 && outWidth == width }

    /// Output positions `o` whose input index `o·stride − pad + k` lies in `0..<size`, for kernel
    /// offset `k`. Every other position reads padding. Computed once per offset so the copy
    /// loops below need no per-element bounds test.
    @inlinable
    public static func valid(_ k: Int, size: Int, pad: Int, stride: Int, out: Int) -> Range<Int> {
        let lo = pad - k <= 0 ? 0 : (pad - k + stride - 1) / stride
        let t = size - 1 + pad - k
        let hi = t < 0 ? 0 : min(out, t / stride + 1)
        return min(lo, hi)..<hi
    }
}

/// Unfolds one sample `x [C, H, W]` into the column matrix `col [C·kh·kw, outH·outW]`:
/// `col[(c·kh + ki)·kw + kj, oy·outW + ox] = x[c, oy·sh − top + ki·dh, ox·sw − left + kj·dw]`, 0 in the
/// padding. Row `r` starts at `col + r·rowStride` (default `outH·outW`), so several samples can
/// share one wide matrix. Then `W [O, C·kh·kw] · col` is the convolution.
public func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, into col: UnsafeMutablePointer<Float>,
                   rowStride: Int? = nil) {
    let oh = g.outHeight, ow = g.outWidth, ld = rowStride ?? oh * ow
    let h = g.height, w = g.width, sh = g.strideH, sw = g.strideW
    let flat = g.isRowContiguous
    for c in 0..<g.channels {
        let xc = x + c * h * w
        for ki in 0..<g.kernelH {
            let di = ki * g.dilationH    // the tap's row offset in the window
            let ys = ConvGeometry.valid(di, size: h, pad: g.padTop, stride: sh, out: oh)
            for kj in 0..<g.kernelW {
                let dj = kj * g.dilationW
                let xs = ConvGeometry.valid(dj, size: w, pad: g.padLeft, stride: sw, out: ow)
                let row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * ld
                if flat {
                    // Row r is the plane shifted by `shift`: one block copy over the valid span,
                    // then zero the few entries that wrapped around a row edge.
                    let shift = (di - g.padTop) * w + (dj - g.padLeft)
                    guard !ys.isEmpty && !xs.isEmpty else { zero(row, oh * ow); continue }
                    let p0 = ys.lowerBound * ow + xs.lowerBound, p1 = (ys.upperBound - 1) * ow + xs.upperBound
                    zero(row, p0)
                    (row + p0).update(from: xc + p0 + shift, count: p1 - p0)
                    zero(row + p1, oh * ow - p1)
                    if xs.count < ow {
                        for oy in ys {
                            zero(row + oy * ow, xs.lowerBound)
                            zero(row + oy * ow + xs.upperBound, ow - xs.upperBound)
                        }
                    }
                    continue
                }
                // Output rows that read only padding.
                zero(row, ys.lowerBound * ow)
                zero(row + ys.upperBound * ow, (oh - ys.upperBound) * ow)
                let n = xs.count, x0 = xs.lowerBound * sw - g.padLeft + dj
                for oy in ys {
                    let src = xc + (oy * sh - g.padTop + di) * w + x0
                    let dst = row + oy * ow
                    zero(dst, xs.lowerBound)
                    if sw == 1 {
                        (dst + xs.lowerBound).update(from: src, count: n)
                    } else if sw == 2 {
                        let d = dst + xs.lowerBound
                        for t in 0..<n { d[t] = src[2 * t] }
                    } else {
                        for t in 0..<n { dst[xs.lowerBound + t] = src[t * sw] }
                    }
                    zero(dst + xs.upperBound, ow - xs.upperBound)
                }
            }
        }
    }
}

/// The adjoint of `im2col`: **adds** every column-matrix entry back to the input position it was
/// read from (`x[c, iy, ix] += col[r, p]`); entries that read padding are dropped. Overlapping
/// windows (stride < kernel) accumulate, which is exactly dL/dx for `col = im2col(x)`.
/// `x` must be initialised (zero it first for a plain gradient).
///
/// `col` is treated as scratch: entries that fall on padding may be set to zero, which lets
/// stride-1 geometries add each row as one contiguous block (the zeroed entries land on valid
/// neighbours and add nothing).
public func col2im(_ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry, into x: UnsafeMutablePointer<Float>,
                   rowStride: Int? = nil) {
    col2im(col, g, into: x, rowStride: rowStride, assigning: false)
}

/// `col2im` into an uninitialised `x`: the result equals zero-filling `x` and then calling
/// `col2im` (the first contribution to each channel is stored instead of added to 0, and the
/// positions it does not cover are zeroed), without the separate pass over the whole sample.
package func col2imAssigning(_ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry,
                             into x: UnsafeMutablePointer<Float>) {
    col2im(col, g, into: x, rowStride: nil, assigning: true)
}

@inline(__always)
private func col2im(_ col: UnsafeMutablePointer<Float>, _ g: ConvGeometry, into x: UnsafeMutablePointer<Float>,
                    rowStride: Int?, assigning: Bool) {
    let oh = g.outHeight, ow = g.outWidth, ld = rowStride ?? oh * ow
    let h = g.height, w = g.width, sh = g.strideH, sw = g.strideW
    let flat = g.isRowContiguous
    for c in 0..<g.channels {
        let xc = x + c * h * w
        // Flat geometries store the channel's first contribution; the others start from zero.
        var fresh = assigning && flat
        if assigning && !flat { zero(xc, h * w) }
        defer { if fresh { zero(xc, h * w) } }
        for ki in 0..<g.kernelH {
            let di = ki * g.dilationH    // the tap's row offset in the window
            let ys = ConvGeometry.valid(di, size: h, pad: g.padTop, stride: sh, out: oh)
            for kj in 0..<g.kernelW {
                let dj = kj * g.dilationW
                let xs = ConvGeometry.valid(dj, size: w, pad: g.padLeft, stride: sw, out: ow)
                let row = col + ((c * g.kernelH + ki) * g.kernelW + kj) * ld
                if flat {
                    guard !ys.isEmpty && !xs.isEmpty else { continue }
                    let shift = (di - g.padTop) * w + (dj - g.padLeft)
                    let p0 = ys.lowerBound * ow + xs.lowerBound, p1 = (ys.upperBound - 1) * ow + xs.upperBound
                    if xs.count < ow {
                        for oy in ys {
                            zero(row + oy * ow, xs.lowerBound)
                            zero(row + oy * ow + xs.upperBound, ow - xs.upperBound)
                        }
                    }
                    // Every index in p0..<p1 shifted by `shift` lies inside the plane.
                    if fresh {
                        fresh = false
                        zero(xc, shift + p0)
                        (xc + shift + p0).update(from: row + p0, count: p1 - p0)
                        zero(xc + shift + p1, h * w - (shift + p1))
                    } else {
                        accumulate(xc + shift + p0, row + p0, p1 - p0)
                    }
                    continue
                }
                let n = xs.count, x0 = xs.lowerBound * sw - g.padLeft + dj
                for oy in ys {
                    let dst = xc + (oy * sh - g.padTop + di) * w + x0
                    let src = row + oy * ow + xs.lowerBound
                    if sw == 1 {
                        accumulate(dst, src, n)
                    } else {
                        for t in 0..<n { dst[t * sw] += src[t] }
                    }
                }
            }
        }
    }
}

/// Zero-fills `count` floats; a plain loop because the counts here are mostly tiny (one or two
/// padding columns), where a memset call costs more than the stores.
@inline(__always)
private func zero(_ p: UnsafeMutablePointer<Float>, _ count: Int) {
    if count > 32 { p.update(repeating: 0, count: count); return }
    var i = 0
    while i < count { p[i] = 0; i += 1 }
}
