# Sourced by the tools/*-l1.sh and linux-qemu.sh cache builders.
# is_stale TARGET INPUT...: true if TARGET is missing or empty, or older
# than any of the inputs (then the cached TARGET is built again).
is_stale() {
    local target=$1 f
    shift
    [ -s "$target" ] || return 0
    for f in "$@"; do
        [ "$f" -nt "$target" ] && return 0
    done
    return 1
}
