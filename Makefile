# VCRcovery. `make demo` and `make test` are all a new user needs; both install
# their Debian packages first (as root, idempotent).
GO        ?= go
BIN       := bin
GOFLAGS   ?=
# Integration tests share one libvirtd (/run/libvirt is global), so test
# packages run one at a time.
TESTFLAGS ?= -p 1 -count=1 -timeout 25m

DEB_PACKAGES := libvirt-daemon-system libvirt-clients qemu-system-x86 lxd lxd-client \
	bind9 bind9-dnsutils prometheus prometheus-alertmanager snmp snmpd busybox-static \
	cpio protobuf-compiler curl iproute2 procps chromium etcd-server \
	mmdebstrap e2fsprogs openssh-client rsync

# The strategy SDK is a Go module of its own (plugins/sdk/README.md); `./...`
# in the main module stops at its go.mod, so vet, test and bench visit it too.
SDK := plugins/sdk

BINARIES := vcr-exporter vcr-receiver vcrctl vcr-sync vcr-strategy-warm vcr-strategy-cold \
	vcr-strategy-scaleup vcr-strategy-example

.PHONY: all build test unit bench bench-e2e bench-paper bench-fleet demo demo-down deps lint proto rules-test rootfs clean

all: build

deps:
	@scripts/deps.sh $(DEB_PACKAGES)

build:
	@mkdir -p $(BIN)
	$(GO) build $(GOFLAGS) -o $(BIN)/ ./cmd/... ./plugins/example/cmd/...

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd $(SDK) && $(GO) vet ./...

# The root filesystem of the real services (Apache, MariaDB, sshd, rsync) for
# standby containers and primary VMs, cached by its content; tests build it on
# first use too.
rootfs: deps
	@scripts/build-rootfs.sh

rules-test:
	promtool check rules rules/*.yml
	promtool test rules rules/tests/*.yml

test: deps lint build rules-test
	$(GO) test $(TESTFLAGS) ./...
	cd $(SDK) && $(GO) test $(TESTFLAGS) ./...

unit:
	$(GO) test -short -count=1 ./...
	cd $(SDK) && $(GO) test -short -count=1 ./...

bench: deps build
	{ $(GO) test -p 1 -run '^$$' -bench . -benchtime 1x -count 1 -timeout 30m ./... && \
	  cd $(SDK) && $(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./... ; } | tee $(BIN)/bench.txt

bench-e2e: deps build
	$(GO) run ./test/bench-e2e

# The paper's §5 experiment with real Apache and MariaDB services (not in make test).
bench-paper: deps build
	$(GO) run ./test/bench-paper

# Mass failover: one host down with 10 to 1,000 services; writes docs/fleet-failover.svg.
bench-fleet: deps build
	$(GO) run ./test/bench-fleet

demo: deps build
	$(GO) run ./test/demo --scenario database --hold=false
	$(GO) run ./test/demo

demo-down:
	$(GO) run ./test/demo --down

# Needs protoc-gen-go v1.36.12 and protoc-gen-go-grpc v1.6.2 on PATH (go install
# google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 and
# google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2). The generated code is
# internal to the SDK module.
proto:
	protoc --go_out=. --go_opt=paths=source_relative \
		--go-grpc_out=. --go-grpc_opt=paths=source_relative \
		$(SDK)/internal/proto/strategy.proto

clean:
	rm -rf $(BIN)
