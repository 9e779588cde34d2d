# Generated files: committed files that a `make` target writes. Each area declares a generator once,
# next to its rule, as an entry of GENERATED:
#
#   GENERATED += GENERATOR:FILE[,FILE...]    # the target, and the paths it writes (from the root)
#
# and this file derives the check GENERATOR-check from it: `make GENERATOR` runs in a copy of the
# tree (the files git would commit: tracked and untracked, not the ignored ones) with this
# checkout's bin/, .venv and .cache, and each FILE is diffed with the copy's. `make generate` runs
# every generator, `make verify` every check. The Makefile reads this file after every other one:
# the rules below are made from the entries they declared.
#
# Not in GENERATED: the lock files (`make lock`, `make docs-lock`, `make checkov-lock`) resolve
# versions on PyPI, so no offline check can regenerate them; the recorded timings
# (`make test-times-record`) and benchmark results (`make bench`) are measurements, not outputs of
# the sources.
## @category Start here

GENERATORS       := $(foreach entry,$(GENERATED),$(firstword $(subst :, ,$(entry))))
GENERATED_CHECKS := $(GENERATORS:=-check)
# $(call generated_files,GENERATOR): the files its entry names.
generated_files = $(subst $(comma), ,$(patsubst $(1):%,%,$(filter $(1):%,$(GENERATED))))

# $(call copy_tree,DIR): the files git lists (a tracked file deleted here is skipped), or outside a
# git work tree (an unpacked archive) every file but the built tools, with their times: the copy's
# make finds every tool and the .venv no older than their sources, and builds none.
list_tree = if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then git ls-files -z --cached --others --exclude-standard; \
  else find . \( -path ./bin -o -path ./.venv -o -path ./.cache -o -path ./.git \) -prune -o \( -type f -o -type l \) -print0; fi
copy_tree = { $(list_tree); } | tar --null --files-from=- --ignore-failed-read --warning=no-failed-read -cf - | tar -xf - -C $(1)

.PHONY: generate verify $(GENERATED_CHECKS)
generate: $(GENERATORS) ## Run every offline generator (the lock files need PyPI: make lock, docs-lock, checkov-lock)
	@echo "generate: ran $(GENERATORS)"

verify: $(GENERATED_CHECKS) ## Fail when any generated file is not what its generator writes (every *-check listed after a generator)
	@echo "verify: $(GENERATED_CHECKS) passed"

# The copy's make would rebuild a stale .venv as an editable install of the copy, deleted afterwards:
# this make brings it up to date first.
$(GENERATED_CHECKS): %-check: | $(VENV_STAMP)
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && mkdir "$$tmp/tree" && $(call copy_tree,"$$tmp/tree") && \
	  { $(MAKE) --no-print-directory -C "$$tmp/tree" $* BIN=$(BIN) VENV=$(VENV) CACHE=$(CACHE) > "$$tmp/log" 2>&1 || \
	    { cat "$$tmp/log" >&2; echo "$@: 'make $*' failed in a copy of the tree (above)" >&2; exit 1; }; } && \
	  stale= && for file in $(call generated_files,$*); do \
	    if diff -u -N --label "$$file" --label "$$file (make $*)" "$$file" "$$tmp/tree/$$file" >&2; then \
	      echo "$@: $$file is up to date"; \
	    else echo "$@: $$file is stale (diff above): run 'make $*' and commit it" >&2; stale=1; fi; \
	  done && test -z "$$stale"

# `make help` lists each check right after its generator, in the generator's area: the sed
# expressions add a described rule line after the generator's line of every makefile awk reads.
help_generated_checks = $(foreach g,$(GENERATORS),-e '/^$(g):.*\#\# /a $(g)-check: \#\# Fail when $(call generated_files,$(g)) is not what `make $(g)` writes (regenerated in a copy of the tree)')
