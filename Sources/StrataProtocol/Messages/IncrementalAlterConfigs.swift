/// IncrementalAlterConfigs (key 44) request, v0 (KIP-339): per-key SET/DELETE/APPEND/SUBTRACT on a
/// resource's dynamic config, leaving keys that are not named untouched.
public struct IncrementalAlterConfigsRequest: KafkaRequest {
    public typealias Response = IncrementalAlterConfigsResponse
    public static var apiKey: ApiKey { .incrementalAlterConfigs }

    /// What to do with one config key.
    public enum Operation: Int8, Sendable, CaseIterable {
        case set = 0
        case delete = 1
        case append = 2
        case subtract = 3
    }

    /// One key, its operation and (for set/append/subtract) its value.
    public struct AlterableConfig: ProtocolValue {
        public var name = ""
        /// The raw operation byte; ``operation`` is nil for a value Kafka does not define.
        public var configOperation: Int8 = 0
        public var value: String?

        public init() {}

        public init(name: String, operation: Operation, value: String?) {
            self.name = name
            self.configOperation = operation.rawValue
            self.value = value
        }

        /// The operation, if the byte names one.
        public var operation: Operation? { Operation(rawValue: configOperation) }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.string(&name, "name")
            try coder.int8(&configOperation, "config_operation")
            try coder.nullableString(&value, "value")
        }
    }

    /// One resource and the changes to its config.
    public struct Resource: ProtocolValue {
        /// 2 topic, 4 broker.
        public var resourceType: Int8 = 0
        public var resourceName = ""
        public var configs: [AlterableConfig] = []

        public init() {}

        public init(resourceType: Int8, resourceName: String, configs: [AlterableConfig]) {
            self.resourceType = resourceType
            self.resourceName = resourceName
            self.configs = configs
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.int8(&resourceType, "resource_type")
            try coder.string(&resourceName, "resource_name")
            try coder.array(&configs, "configs")
        }
    }

    public var resources: [Resource] = []
    public var validateOnly = false

    public init() {}

    public init(resources: [Resource], validateOnly: Bool = false) {
        self.resources = resources
        self.validateOnly = validateOnly
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.array(&resources, "resources")
        try coder.bool(&validateOnly, "validate_only")
    }
}

/// IncrementalAlterConfigs (key 44) response, v0: one outcome per resource, as AlterConfigs.
public struct IncrementalAlterConfigsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .incrementalAlterConfigs }

    public typealias ResourceResponse = AlterConfigsResponse.ResourceResponse

    public var throttleTimeMs: Int32 = 0
    public var responses: [ResourceResponse] = []

    public init() {}

    public init(throttleTimeMs: Int32 = 0, responses: [ResourceResponse]) {
        self.throttleTimeMs = throttleTimeMs
        self.responses = responses
    }

    public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
        try coder.int32(&throttleTimeMs, "throttle_time_ms")
        try coder.array(&responses, "responses")
    }
}
