import Logging
import NIOCore
import StrataProtocol

/// What the client knows about the cluster: brokers, topic partitions and their leaders, and one
/// connection per broker. An actor: all of it is owned here.
actor Cluster {
    struct PartitionInfo: Sendable {
        var partition: Int32
        var leader: Int32
    }

    private let bootstrap: [(host: String, port: Int)]
    let group: EventLoopGroup
    private let clientId: String
    private var brokers: [Int32: (host: String, port: Int)] = [:]
    private var connections: [Int32: BrokerConnection] = [:]
    private var connecting: [Int32: Task<BrokerConnection, Error>] = [:]
    private var bootstrapConnection: BrokerConnection?
    private var topics: [String: [PartitionInfo]] = [:]
    private var isClosed = false
    /// Whether metadata requests for unknown topics ask the broker to create them.
    private let autoCreateTopics: Bool
    /// `request.timeout.ms` of every connection this cluster opens.
    let requestTimeout: TimeAmount

    init(
        bootstrap: [String], group: EventLoopGroup, clientId: String, autoCreateTopics: Bool = true,
        requestTimeout: TimeAmount = BrokerConnection.requestTimeoutDefault
    )
        throws(ClientError)
    {
        self.autoCreateTopics = autoCreateTopics
        self.requestTimeout = requestTimeout
        var parsed: [(String, Int)] = []
        for address in bootstrap {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]) else {
                throw .invalidArgument("bootstrap address \(address) is not HOST:PORT")
            }
            parsed.append((String(address[..<colon]), port))
        }
        guard !parsed.isEmpty else { throw .invalidArgument("no bootstrap address") }
        self.bootstrap = parsed
        self.group = group
        self.clientId = clientId
    }

    /// Any live connection (bootstrap first).
    func anyConnection() async throws -> BrokerConnection {
        if isClosed { throw ClientError.closed }
        if let connection = bootstrapConnection, connection.isActive { return connection }
        if let connection = connections.values.first(where: \.isActive) { return connection }
        bootstrapConnection = nil
        var tried: [String] = []
        for (host, port) in bootstrap {
            tried.append("\(host):\(port)")
            if let connection = try? await BrokerConnection.connect(
                host: host, port: port, group: group, clientId: clientId, requestTimeout: requestTimeout)
            {
                bootstrapConnection = connection
                return connection
            }
        }
        throw ClientError.noBrokerAvailable(tried: tried)
    }

    /// Waits until some bootstrap broker answers, retrying with backoff for up to `timeout`; then
    /// throws `noBrokerAvailable` naming every address tried.
    func waitUntilReachable(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        var backoff = Duration.milliseconds(50)
        while true {
            do {
                _ = try await anyConnection()
                return
            } catch ClientError.noBrokerAvailable(let tried) {
                let now = ContinuousClock.now
                if now >= deadline { throw ClientError.noBrokerAvailable(tried: tried) }
                try await Task.sleep(for: min(backoff, deadline - now))
                backoff = min(backoff * 2, .seconds(1))
            }
        }
    }

    /// A fresh idempotent producer id and epoch (InitProducerId without a transactional id).
    func newProducerId() async throws -> (id: Int64, epoch: Int16) {
        let connection = try await anyConnection()
        let response = try await connection.send(
            InitProducerIdRequest(transactionalId: nil, transactionTimeoutMs: 60_000))
        guard response.errorCode == .noError else { throw ClientError.broker(.initProducerId, response.errorCode) }
        return (response.producerId, response.producerEpoch)
    }

    /// Refreshes metadata for `names` (nil: all topics), creating them if the broker auto-creates.
    func refresh(_ names: [String]?) async throws {
        let connection = try await anyConnection()
        var request = MetadataRequest(topics: names)
        request.allowAutoTopicCreation = autoCreateTopics
        let response = try await connection.send(request)
        for broker in response.brokers { brokers[broker.nodeId] = (broker.host, Int(broker.port)) }
        for topic in response.topics {
            if topic.errorCode == .noError {
                topics[topic.name] = topic.partitions.map {
                    PartitionInfo(partition: $0.partitionIndex, leader: $0.leaderId)
                }
                .sorted { $0.partition < $1.partition }
            } else {
                topics[topic.name] = nil
            }
        }
    }

    /// Partitions of `topic`, fetching metadata when unknown.
    func partitions(of topic: String) async throws -> [PartitionInfo] {
        if let known = topics[topic] { return known }
        try await refresh([topic])
        guard let known = topics[topic], !known.isEmpty else { throw ClientError.unknownTopic(topic) }
        return known
    }

    /// The connection to the leader of `topic`-`partition`.
    func leader(_ topic: String, _ partition: Int32) async throws -> BrokerConnection {
        let infos = try await partitions(of: topic)
        guard let info = infos.first(where: { $0.partition == partition }) else {
            throw ClientError.broker(.metadata, .unknownTopicOrPartition, topic: topic, partition: partition)
        }
        return try await connection(to: info.leader)
    }

    func connection(to node: Int32) async throws -> BrokerConnection {
        if isClosed { throw ClientError.closed }
        if let existing = connections[node], existing.channel.isActive { return existing }
        guard let address = brokers[node] else {
            try await refresh(nil)
            guard let address = brokers[node] else {
                throw ClientError.protocolViolation(broker: "node \(node)", reason: "leader not in metadata")
            }
            return try await connect(node, address)
        }
        return try await connect(node, address)
    }

    /// Connects to `node`; concurrent callers share one attempt (no duplicate connections).
    private func connect(_ node: Int32, _ address: (host: String, port: Int)) async throws -> BrokerConnection {
        if let attempt = connecting[node] { return try await attempt.value }
        let group = group
        let clientId = clientId
        let requestTimeout = requestTimeout
        let attempt = Task {
            try await BrokerConnection.connect(
                host: address.host, port: address.port, group: group, clientId: clientId,
                requestTimeout: requestTimeout)
        }
        connecting[node] = attempt
        defer { connecting[node] = nil }
        let connection = try await attempt.value
        if isClosed {
            await connection.close()
            throw ClientError.closed
        }
        connections[node] = connection
        return connection
    }

    /// Forgets a topic's metadata (after NOT_LEADER / UNKNOWN_TOPIC errors).
    func invalidate(_ topic: String) { topics[topic] = nil }

    func close() async {
        isClosed = true
        for connection in connections.values { await connection.close() }
        await bootstrapConnection?.close()
        connections = [:]
        bootstrapConnection = nil
    }
}
