import NIOCore

/// A task executor that runs jobs on one SwiftNIO event loop.
///
/// A task that mostly waits for answers on one connection (the consumer's fetcher) runs best on
/// that connection's event loop: the answer resumes it on the thread that read it, and the next
/// request it writes goes out from that thread, without the wake-ups a hop to the global
/// cooperative pool and back costs (a futex wake one way, an eventfd write the other, a context
/// switch each). Default actors the task calls run there too (SE-0417).
///
/// Thread-safety: stateless; `EventLoop.execute` is thread-safe and runs jobs in submission order.
public final class EventLoopTaskExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
