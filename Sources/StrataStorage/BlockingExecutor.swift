import Foundation

/// A few dedicated threads for blocking file work (fdatasync, recovery), so that neither NIO
/// event loops nor the Swift concurrency pool ever block on the disk.
///
/// The job queue is guarded by one `NSCondition`; jobs run in submission order on any free thread.
/// Group commit keeps the queue short: each partition has at most one sync job queued or running.
public final class BlockingExecutor: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []  // guarded by `condition`
    private var head = 0  // guarded by `condition`
    private var stopping = false  // guarded by `condition`
    private var threads: [Thread] = []

    /// Starts `threadCount` threads named `name-N`.
    public init(threadCount: Int = 4, name: String = "strata-io") {
        precondition(threadCount > 0)
        for index in 0..<threadCount {
            let thread = Thread { [self] in self.run() }
            thread.name = "\(name)-\(index)"
            threads.append(thread)
            thread.start()
        }
    }

    /// Queues `job`.
    public func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs queued jobs, then stops the threads (does not wait for them to exit).
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        while true {
            condition.lock()
            while head == jobs.count && !stopping { condition.wait() }
            if head == jobs.count && stopping {
                condition.unlock()
                return
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
        }
    }
}
