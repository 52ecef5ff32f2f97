# lepton.aiops: the two commands of the README, and their parts.
#   make demo   install what is missing, then run the lepton.aiops.site demo
#   make test   install what is missing, then run every test layer
SHELL := /bin/bash
VENV ?= $(CURDIR)/.venv
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(VENV)/bin:$(PATH)

.PHONY: demo test setup-demo setup-test engine sanity units integration molecule lint build clean

demo: setup-demo
	ansible-playbook lepton.aiops.site

test: setup-test engine
	tests/run

setup-demo:
	scripts/bootstrap demo

setup-test:
	scripts/bootstrap test

# The Docker Engine the integration and molecule layers need: started with
# the collection's container_host role when it does not answer.
engine:
	@docker version >/dev/null 2>&1 || ansible-playbook lepton.aiops.container_host

sanity units lint: setup-test
	tests/run $@

integration molecule: setup-test engine
	tests/run $@

build:
	ansible-galaxy collection build --force --output-path .build/dist

clean:
	rm -rf .build
