# `make help`: every target that has a "## description" on its rule line, under the area that the
# last "## @category <Area>" line above it in the same file names. The areas print in the order of
# -v areas="A|B|..." (any other area after them, in the order met); a target with no area goes under
# "Other". -v color=1 colours the names (a terminal).
#
#   awk -v areas="Chart|Images" -v color=1 -f tools/make_help.awk Makefile make/*.mk

FNR == 1 { area = "" }

/^## @category / {
    area = substr($0, length("## @category ") + 1)
    next
}

/^[a-zA-Z0-9_.-]+:.*## / {
    target = substr($0, 1, index($0, ":") - 1)
    if (target in seen) next
    seen[target] = 1
    description = substr($0, index($0, "## ") + 3)
    name = area == "" ? "Other" : area
    if (!(name in count)) order[++areas_met] = name
    count[name]++
    targets[name, count[name]] = target
    descriptions[name, count[name]] = description
    if (length(target) > width) width = length(target)
}

function print_area(name,    i, line) {
    if (!(name in count) || (name in printed)) return
    printed[name] = 1
    printf "%s%s%s\n", (color ? "\033[1m" : ""), name, (color ? "\033[0m" : "")
    line = "  %s%-" width "s%s  %s\n"
    for (i = 1; i <= count[name]; i++)
        printf line, (color ? "\033[36m" : ""), targets[name, i], (color ? "\033[0m" : ""), descriptions[name, i]
    print ""
}

END {
    listed = split(areas, wanted, "|")
    for (i = 1; i <= listed; i++) print_area(wanted[i])
    for (i = 1; i <= areas_met; i++) if (order[i] != "Other") print_area(order[i])
    print_area("Other")
}
