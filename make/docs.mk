# The documentation site: README.md and docs/ built by MkDocs with the Material theme (mkdocs.yml).
# `make docs-site` builds it in strict mode (a broken link, a missing anchor or a page left out of the
# nav fails; part of `make test`), `make docs-serve` previews it. Not `make docs`: that one writes the
# chart's README (make/chart.mk).
#
# The tools are pinned in tools/docs/requirements.txt (every version, `make docs-lock` compiles it)
# and installed into their own folder under ./bin, like hadolint: never into the .venv, whose lock
# is also the images' (a change there rebuilds their dependency layer).
## @category Documentation

DOCS_REQUIREMENTS := tools/docs/requirements.txt
# The folder's name carries the two pins it was installed for.
MKDOCS_VERSION    := $(shell sed -n 's/^mkdocs==//p' $(DOCS_REQUIREMENTS))
MATERIAL_VERSION  := $(shell sed -n 's/^mkdocs-material==//p' $(DOCS_REQUIREMENTS))
DOCS_TOOLS_DIR    := $(BIN)/mkdocs-$(MKDOCS_VERSION)-material-$(MATERIAL_VERSION)
DOCS_TOOLS        := $(DOCS_TOOLS_DIR)/.installed
DOCS_ADDRESS      ?= 127.0.0.1:8000
# Another project's config: tests/docs builds small sites with this recipe.
DOCS_CONFIG       ?= mkdocs.yml
# Material prints a banner about MkDocs 2.0 on every build. Never `build --quiet`: it stops strict
# mode from counting the warnings, and a broken link passes.
MKDOCS = NO_MKDOCS_2_WARNING=1 PYTHONPATH=$(DOCS_TOOLS_DIR) $(PY) -m mkdocs

# A change of the requirements reinstalls the folder whole.
$(DOCS_TOOLS): $(DOCS_REQUIREMENTS) | $(VENV_STAMP)
	@rm -rf $(DOCS_TOOLS_DIR).tmp
	$(UV) pip install --quiet --python $(PY) --target $(DOCS_TOOLS_DIR).tmp --requirement $(DOCS_REQUIREMENTS)
	@touch $(DOCS_TOOLS_DIR).tmp/.installed
	@rm -rf $(DOCS_TOOLS_DIR) && mv $(DOCS_TOOLS_DIR).tmp $(DOCS_TOOLS_DIR)
	@$(MKDOCS) --version | grep -q ' $(MKDOCS_VERSION) ' || { echo "$(DOCS_TOOLS_DIR) has no mkdocs $(MKDOCS_VERSION)" >&2; exit 1; }

.PHONY: docs-tools docs-site docs-serve docs-lock
docs-tools: $(DOCS_TOOLS) ## Install the documentation site's pinned tools (MkDocs, Material) into ./bin

docs-site: $(DOCS_TOOLS) ## Build the documentation site (README.md + docs/) strictly into .cache/site: broken links fail
	$(MKDOCS) build --strict --config-file $(DOCS_CONFIG)
	@echo "docs-site: built, every link checked"

docs-serve: $(DOCS_TOOLS) ## Preview the documentation site on http://127.0.0.1:8000 (DOCS_ADDRESS=host:port), rebuilt on every edit
	$(MKDOCS) serve --dev-addr $(DOCS_ADDRESS) --config-file $(DOCS_CONFIG)

# Needs PyPI: not in GENERATED, no offline check can regenerate it (make/generated.mk).
docs-lock: $(VENV_STAMP) ## Regenerate tools/docs/requirements.txt from tools/docs/requirements.in (needs PyPI)
	$(UV) pip compile tools/docs/requirements.in --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	  --no-header --quiet --output-file $(DOCS_REQUIREMENTS)

# `make test` runs it after the chart checks (the Makefile orders every area's checks).
DOCS_CHECKS := docs-site
