import Boundary
import Cluster
import Foundation
import NN
import Tensor

/// The CLI side of running under `mpirun` (docs/mpi.md): starting MPI for the commands that
/// parallelise, and the sharded base-sample scan and BSS search of `generate`/`similarity`.
enum MPISupport {
    /// Starts MPI when the process was started by mpirun (nil otherwise: no MPI call is made).
    /// Without `--threads`, the cores are divided between the ranks on this host; progress is
    /// shown on rank 0 only.
    static func start(_ runtime: RuntimeOptions) throws -> MPIWorld? {
        guard let world = try MPIWorld.start() else { return nil }
        if runtime.threads == nil {
            Parallel.threads = max(1, ProcessInfo.processInfo.activeProcessorCount / world.localSize)
        }
        Progress.visible = world.isRoot
        return world
    }

    /// `PairSelection.baseSamples` with the rows split over the ranks: rounds of `size ×
    /// batchSize` rows, rank r scanning the r-th `batchSize` rows of each round, until `limit`
    /// base samples are found. The teacher's outputs are per sample (docs/design.md,
    /// "Determinism"), so the rows, classes and logits are those one process finds.
    static func baseSamples(_ world: MPIWorld, teacher: Graph, x: Tensor, labels: [Int]?, filter: BaseFilter, limit: Int?,
                            batchSize: Int, progress: ((Int) -> Void)? = nil) -> (rows: [Int], baseClass: [Int], logits: Tensor) {
        let n = x.batch, classes = teacher.outputShape.reduce(1, *), chunk = max(1, batchSize)
        var rows: [Int] = [], baseClass: [Int] = [], logits: [Float] = []
        var start = 0
        while start < n, rows.count < (limit ?? Int.max) {
            let round = start..<min(n, start + world.size * chunk)
            let mine = Shard.range(count: round.count, rank: world.rank, size: world.size)
            let lo = round.lowerBound + mine.lowerBound, hi = round.lowerBound + mine.upperBound
            var found: (rows: [Int], baseClass: [Int], logits: Tensor) = ([], [], Tensor(shape: [0, classes]))
            if hi > lo {
                found = PairSelection.baseSamples(teacher: teacher, x: x.slice(rows: lo..<hi), labels: labels.map { Array($0[lo..<hi]) },
                                                  filter: filter, limit: nil, batchSize: chunk)
            }
            let r = world.allgather(found.rows.map { Int32($0 + lo) }), c = world.allgather(found.baseClass.map { Int32($0) })
            let l = world.allgather(found.logits.data)
            let take = min(r.count, (limit ?? Int.max) - rows.count)
            rows += r.prefix(take).map { Int($0) }
            baseClass += c.prefix(take).map { Int($0) }
            logits += l.prefix(take * classes)
            start = round.upperBound
            progress?(start)
        }
        return (rows, baseClass, Tensor(shape: [rows.count, classes], data: logits))
    }

    /// `engine.run` with the pairs split into contiguous shares, gathered on every rank in pair
    /// order. The search is deterministic and per pair, so the result is the one-process result.
    static func search(_ world: MPIWorld, engine: BSSGenerator, source: Tensor, pairs: BSSPairs) -> BSSBatchResult {
        let mine = Shard.range(count: pairs.count, rank: world.rank, size: world.size)
        let local = engine.run(source: source, rows: Array(pairs.baseIndex[mine]), base: Array(pairs.baseClass[mine]),
                               target: Array(pairs.targetClass[mine]))
        let per = engine.teacher.inputShape, classes = engine.teacher.outputShape.reduce(1, *)
        let x = world.allgather(local.x.data), logits = world.allgather(local.logits.data)
        var out = BSSBatchResult(x: Tensor(shape: [pairs.count] + per, data: x),
                                 status: world.allgather(local.status.map { Int32($0.rawValue) }).map { BSSStatus(rawValue: Int8($0))! },
                                 steps: world.allgather(local.steps.map { Int32($0) }).map { Int($0) },
                                 logits: Tensor(shape: [pairs.count, classes], data: logits),
                                 margins: world.allgather(local.margins))
        var work = [Double(local.forwardRows), Double(local.backwardRows)]
        world.allreduceSum(&work)
        out.forwardRows = Int(work[0]); out.backwardRows = Int(work[1])
        return out
    }

    /// `engine.compare` with the pairs split into contiguous shares, gathered in pair order.
    static func compare(_ world: MPIWorld, engine: BoundarySimilarity, xA: Tensor, xB: Tensor, pairs: BSSPairs,
                        alignment: SimilarityAlignment) -> SimilarityResult {
        let mine = Shard.range(count: pairs.count, rank: world.rank, size: world.size)
        var sub = BSSPairs()
        sub.baseIndex = Array(pairs.baseIndex[mine]); sub.baseClass = Array(pairs.baseClass[mine])
        sub.targetClass = Array(pairs.targetClass[mine]); sub.targetProbability = Array(pairs.targetProbability[mine])
        let local = engine.compare(xA: xA, xB: xB, pairs: sub, alignment: alignment)
        let ints = world.allgather(local.baseIndex.indices.flatMap { j in
            [Int32(local.baseIndex[j]), Int32(local.baseClass[j]), Int32(local.targetClass[j]),
             local.acceptedA[j] ? 1 : 0, local.acceptedB[j] ? 1 : 0]
        })
        let doubles = world.allgather(local.baseIndex.indices.flatMap { j in [local.distanceA[j], local.distanceB[j], local.cosine[j]] })
        var out = SimilarityResult(classes: engine.classes)
        for j in 0..<(ints.count / 5) {
            out.append(baseIndex: Int(ints[5 * j]), baseClass: Int(ints[5 * j + 1]), targetClass: Int(ints[5 * j + 2]),
                       acceptedA: ints[5 * j + 3] != 0, acceptedB: ints[5 * j + 4] != 0,
                       distanceA: doubles[3 * j], distanceB: doubles[3 * j + 1], cosine: doubles[3 * j + 2])
        }
        return out
    }
}
