# Build: the Swift 6 toolchain makes the release binary, with the Swift runtime linked in.
FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
COPY Tests ./Tests
COPY proto ./proto
RUN swift build -c release --product switchboard --static-swift-stdlib \
  && mkdir /out \
  && cp "$(swift build -c release --show-bin-path)/switchboard" /out/ \
  && cp -R "$(swift build -c release --show-bin-path)"/*.resources /out/

# Run: a slim image, a non-root user. tzdata for agents' calling windows, CA roots for webhooks.
FROM debian:bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates tzdata \
  && rm -rf /var/lib/apt/lists/* \
  && useradd --system --uid 10001 --home-dir /app switchboard
WORKDIR /app
COPY --from=build /out/ /app/
USER switchboard
ENV PATH=/app:$PATH SWITCHBOARD_HOST=0.0.0.0 SWITCHBOARD_HTTP_PORT=8080 SWITCHBOARD_GRPC_PORT=50051
EXPOSE 8080 50051
HEALTHCHECK --interval=10s --timeout=6s --retries=3 CMD ["switchboard", "healthcheck"]
ENTRYPOINT ["switchboard"]
CMD ["serve"]
