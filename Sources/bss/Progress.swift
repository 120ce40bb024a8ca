import Foundation

/// A progress display on stderr: a redrawn bar when stderr is a terminal, otherwise plain
/// lines at most every few seconds (so logs from CI or `2> file` stay readable).
final class Progress {
    /// False on MPI ranks other than 0: one display per job (MPISupport).
    nonisolated(unsafe) static var visible = true
    let total: Int
    let label: String
    let unit: String
    let start = Date()
    let isTTY = isatty(STDERR_FILENO) != 0
    var lastDraw = Date.distantPast
    var extra: () -> String = { "" }
    private(set) var done = 0

    init(total: Int, label: String, unit: String) {
        self.total = total; self.label = label; self.unit = unit
        // In a log, the first line is only worth printing once some seconds have passed.
        if !isTTY { lastDraw = start }
    }

    func update(_ done: Int) {
        self.done = done
        let now = Date()
        let interval: TimeInterval = isTTY ? 0.1 : 5
        guard now.timeIntervalSince(lastDraw) >= interval || done >= total else { return }
        lastDraw = now
        draw(final: false)
    }

    func finish() {
        draw(final: true)
    }

    private func draw(final: Bool) {
        guard Self.visible else { return }
        let elapsed = Date().timeIntervalSince(start)
        // The rate is meaningless until some work is done and some time has passed.
        let rate = elapsed > 0.05 && done > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let frac = total > 0 ? Double(done) / Double(total) : 1
        let info = extra()
        let rateText = rate > 0 ? String(format: "%.1f %@/s", rate, unit) : "– \(unit)/s"
        let when = final ? "in " + Self.clock(elapsed) : (rate > 0 ? "ETA " + Self.clock(eta) : "ETA –")
        let stats = String(format: "%d/%d %@  %@  %@", done, total, unit, rateText, when)
            + (info.isEmpty ? "" : "  " + info)
        if isTTY {
            let width = 24
            let filled = Int(frac * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            FileHandle.standardError.write(Data("\r\u{1B}[2K\(label) \(bar) \(stats)\(final ? "\n" : "")".utf8))
        } else if final || done < total {
            FileHandle.standardError.write(Data("\(label): \(stats)\n".utf8))
        }
    }

    static func clock(_ s: Double) -> String {
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
                         : String(format: "%d:%02d", t / 60, t % 60)
    }
}
