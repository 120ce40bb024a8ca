/// Contiguous, balanced shares of `count` items over `size` ranks: rank `r` takes
/// `[r·count/size, (r+1)·count/size)` (integer division), so the first ranks never hold more
/// than one item more than the last, every item has exactly one owner, and the split depends
/// only on `count` and `size` (so every rank computes everyone's share without talking).
public enum Shard {
    public static func range(count: Int, rank: Int, size: Int) -> Range<Int> {
        precondition(size >= 1 && rank >= 0 && rank < size && count >= 0, "Shard: rank \(rank) of \(size), count \(count)")
        return (rank * count / size)..<((rank + 1) * count / size)
    }

    /// Every rank's share, in rank order.
    public static func ranges(count: Int, size: Int) -> [Range<Int>] {
        (0..<size).map { range(count: count, rank: $0, size: size) }
    }
}
