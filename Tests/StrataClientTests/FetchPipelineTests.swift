import NIOCore
import Synchronization
import Testing

@testable import StrataClient

/// The consumer's background fetcher: answers in order, errors in their place, bounded read-ahead,
/// close and cancellation.
@Suite struct FetchPipelineTests {
    /// A scripted fetch: round N answers one partition whose `start` is N (or throws / is empty as
    /// the script says), and counts the rounds it ran.
    final class Script: Sendable {
        enum Step: Sendable { case answer, empty, fail }
        private let state = Mutex<(steps: [Step], rounds: Int)>(([], 0))
        init(_ steps: [Step]) { state.withLock { $0.steps = steps } }
        var rounds: Int { state.withLock { $0.rounds } }

        func fetch() async throws -> [FetchedPartition] {
            let (round, step) = state.withLock { state -> (Int, Step) in
                state.rounds += 1
                let step = state.steps.isEmpty ? Step.answer : state.steps.removeFirst()
                return (state.rounds, step)
            }
            switch step {
            case .answer:
                return [
                    FetchedPartition(
                        key: TopicPartition(topic: "t", partition: 0), epoch: 1, start: Int64(round),
                        batches: ByteBuffer())
                ]
            case .empty: return []
            case .fail: throw ClientError.invalidArgument("round \(round) failed")
            }
        }
    }

    @Test func answersArriveInOrderAndEmptyRoundsAreSkipped() async throws {
        let pipeline = FetchPipeline()
        let script = Script([.answer, .empty, .empty, .answer, .answer])
        var starts: [Int64] = []
        for _ in 0..<3 { starts += try await pipeline.next(fetchingWith: script.fetch).map(\.start) }
        #expect(starts == [1, 4, 5])
        pipeline.close()
    }

    @Test func aFetchErrorArrivesInItsPlaceAndTheNextCallFetchesAgain() async throws {
        let pipeline = FetchPipeline()
        let script = Script([.answer, .fail, .answer])
        #expect(try await pipeline.next(fetchingWith: script.fetch).map(\.start) == [1])
        await #expect(throws: ClientError.self) { try await pipeline.next(fetchingWith: script.fetch) }
        #expect(try await pipeline.next(fetchingWith: script.fetch).map(\.start) == [3])
        pipeline.close()
    }

    @Test func theFetcherStopsWhenAnAnswerIsWaitingUnread() async throws {
        let pipeline = FetchPipeline()
        let script = Script([])
        _ = try await pipeline.next(fetchingWith: script.fetch)
        // One answer read, one more fetched and waiting: nothing else until it is taken.
        try await waitUntil { pipeline.diagnostics.contains("fetcher waiting for room") }
        #expect(script.rounds == 2)
        #expect(try await pipeline.next(fetchingWith: script.fetch).map(\.start) == [2])
        try await waitUntil { script.rounds == 3 }
        pipeline.close()
    }

    @Test func closeFailsAWaitingReaderAndLaterCalls() async throws {
        let pipeline = FetchPipeline()
        let waiting = waitingReader(pipeline)
        try await waitUntil { pipeline.diagnostics.contains("readers waiting 1") }
        pipeline.close()
        await #expect(throws: ClientError.closed) { try await waiting.value }
        await #expect(throws: ClientError.closed) { try await pipeline.next { [] } }
    }

    @Test func cancellingAWaitingReaderEndsItsWait() async throws {
        let pipeline = FetchPipeline()
        let waiting = waitingReader(pipeline)
        try await waitUntil { pipeline.diagnostics.contains("readers waiting 1") }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        pipeline.close()
    }

    /// A reader waiting on a fetch that takes 2 s and finds nothing.
    private func waitingReader(_ pipeline: FetchPipeline) -> Task<[FetchedPartition], any Error> {
        Task {
            try await pipeline.next {
                try await Task.sleep(for: .seconds(2))
                return []
            }
        }
    }

    private func waitUntil(_ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while !condition() {
            guard ContinuousClock.now < deadline else { throw ClientError.invalidArgument("condition not met") }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
