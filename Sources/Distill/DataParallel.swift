import Cluster
import Foundation
import ModelIO
import NN
import Tensor

/// Data-parallel distillation over the ranks of an `mpirun` job (docs/mpi.md).
///
/// Every rank holds the whole training set, the same student and the same training stream, so
/// every rank draws the same permutations, augmentations and target classes without talking.
/// Per batch of `B` rows each rank takes the fixed contiguous share `Shard.range(B, rank, N)`
/// and runs the student's forward and backward on it; BatchNorm statistics are summed over the
/// ranks (`BatchNorm.statisticsReducer`), each rank's loss gradient is scaled by `B_rank / B`
/// (its share of the global mean), and the parameter gradients are summed with one
/// `MPI_Allreduce` before the optimiser step, so every rank applies the same update and N ranks
/// compute what one process computes, up to the order of additions.
///
/// A batch with fewer rows than ranks (a short last batch, a handful of boundary samples) is
/// not split: every rank computes it whole with its own statistics and the gradient is scaled
/// by `1/N`, so the sum is the single-process gradient.
///
/// Dropout is refused: its masks come from per-layer streams drawn in batch order, which a
/// shard cannot reproduce.
public final class DataParallel {
    public let world: MPIWorld
    public var size: Int { world.size }
    public var rank: Int { world.rank }
    /// Bytes this rank sent in the last training step (gradients, statistics, logits, samples).
    public private(set) var lastStepBytes = 0
    private var stepStart = 0

    public init(world: MPIWorld, student: Graph) throws {
        if let node = student.nodes.first(where: { $0.layer is Dropout }) {
            throw ModelIOError(.unsupported, file: "student", location: node.name,
                               "dropout is not supported under mpirun with \(world.size) ranks (its masks are drawn in batch order, which shards cannot reproduce); run with one process")
        }
        self.world = world
    }

    /// This rank's rows of a batch of `count`, or nil when the batch is computed whole on every rank.
    func share(_ count: Int) -> Range<Int>? {
        count >= size ? Shard.range(count: count, rank: rank, size: size) : nil
    }

    /// Sums statistics over the ranks in every BatchNorm of `graph` (`sync`), or lets each use its own.
    func synchroniseBatchNorm(_ graph: Graph, _ sync: Bool) {
        for node in graph.nodes {
            guard let bn = node.layer as? BatchNorm else { continue }
            bn.statisticsReducer = sync ? { [world] in world.allreduceSum(&$0) } : nil
        }
    }

    func beginStep() { stepStart = world.bytesSent }
    func endStep() { lastStepBytes = world.bytesSent - stepStart }

    /// Sums every trainable parameter's gradient over the ranks (one all-reduce of all of them).
    func allreduceGradients(_ graph: Graph) {
        let params = graph.trainableParameters
        var flat: [Float] = []
        flat.reserveCapacity(params.reduce(0) { $0 + $1.grad.count })
        for p in params { flat.append(contentsOf: p.grad.data) }
        world.allreduceSum(&flat)
        var offset = 0
        for p in params {
            let n = p.grad.count
            p.grad.data.withUnsafeMutableBufferPointer { g in
                flat.withUnsafeBufferPointer { f in g.baseAddress!.update(from: f.baseAddress! + offset, count: n) }
            }
            offset += n
        }
    }

    /// Rows `[B, …]` of which this rank computed `local`, its share `Shard.range(B, rank, N)`, on
    /// every rank (the shares are known, so one collective).
    func allgatherRows(_ local: Tensor, perRow: [Int], total: Int) -> Tensor {
        let per = perRow.reduce(1, *)
        let counts = Shard.ranges(count: total, size: size).map { $0.count * per }
        return Tensor(shape: [total] + perRow, data: world.allgather(local.data, counts: counts))
    }

    /// `graph`'s inference-mode outputs on every row of `x`, each rank computing its share
    /// (inference is per sample, so the rows are the bits one process computes: docs/design.md,
    /// "Determinism"). `progress` gets this rank's rows done.
    public func predict(_ graph: Graph, _ x: Tensor, batchSize: Int, progress: ((Int) -> Void)? = nil) -> Tensor {
        let mine = Shard.range(count: x.batch, rank: rank, size: size)
        let local = graph.predict(x.slice(rows: mine), batchSize: batchSize, progress: progress)
        return allgatherRows(local, perRow: graph.outputShape, total: x.batch)
    }

    /// Accuracy and mean cross-entropy on `x`/`labels` with each rank evaluating its share.
    func evaluate(_ graph: Graph, _ x: Tensor, labels: [Int], batchSize: Int) -> (accuracy: Double, loss: Double) {
        let mine = Shard.range(count: x.batch, rank: rank, size: size)
        var sums: [Double] = [0, 0]
        if !mine.isEmpty {
            let logits = graph.predict(x.slice(rows: mine), batchSize: batchSize)
            let y = Array(labels[mine])
            sums[0] = Double(zip(argmax(rows: logits), y).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) })
            sums[1] = Double(crossEntropy(logits: logits, labels: y).loss) * Double(mine.count)
        }
        world.allreduceSum(&sums)
        return (sums[0] / Double(x.batch), sums[1] / Double(x.batch))
    }
}
