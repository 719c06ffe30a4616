/// AlterConfigs (key 33) request, v0–v1: replace a resource's whole dynamic config.
public struct AlterConfigsRequest: KafkaRequest {
    public typealias Response = AlterConfigsResponse
    public static var apiKey: ApiKey { .alterConfigs }

    /// One resource and its new configs.
    public struct Resource: ProtocolValue {
        /// 2 topic, 4 broker.
        public var resourceType: Int8 = 0
        public var resourceName = ""
        public var configs: [ConfigEntry] = []

        public init() {}

        public init(resourceType: Int8, resourceName: String, configs: [ConfigEntry]) {
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

/// AlterConfigs (key 33) response, v0–v1. Throttle time is the first field.
public struct AlterConfigsResponse: KafkaResponse {
    public static var apiKey: ApiKey { .alterConfigs }

    /// One resource's outcome.
    public struct ResourceResponse: ProtocolValue {
        public var errorCode = KafkaErrorCode.noError
        public var errorMessage: String?
        public var resourceType: Int8 = 0
        public var resourceName = ""

        public init() {}

        public init(
            errorCode: KafkaErrorCode = .noError, errorMessage: String? = nil, resourceType: Int8,
            resourceName: String
        ) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.resourceType = resourceType
            self.resourceName = resourceName
        }

        public mutating func code<Coder: ProtocolCoder>(_ coder: inout Coder) throws(Coder.Failure) {
            try coder.errorCode(&errorCode, "error_code")
            try coder.nullableString(&errorMessage, "error_message")
            try coder.int8(&resourceType, "resource_type")
            try coder.string(&resourceName, "resource_name")
        }
    }

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
