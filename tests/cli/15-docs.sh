#!/bin/sh
# 15-docs.sh - the user-facing docs stand on their own in a clone: no
# tracked file but this test mentions ../shared/ (a directory outside the
# repository), docs/science.md exists and cites both papers, and every
# relative link and every repository path the README and docs/*.md quote
# names a file or directory that exists.
set -eu
cd "$TB_ROOT"

fail() { echo "FAIL: $*"; exit 1; }
self=tests/cli/15-docs.sh
pat='\.\./shared/'

if git rev-parse --is-inside-work-tree > /dev/null 2>&1; then
    files=$(git ls-files)
else # a copy without .git: every file but build outputs
    files=$(find . -type f ! -path './build*' ! -path './.git/*' ! -path '*/node_modules/*' \
        ! -path './data/*' | sed 's|^\./||')
fi
bad=$(echo "$files" | grep -v -x -e "$self" | while read -r f; do
    [ -f "$f" ] && grep -l -e "$pat" "$f" 2> /dev/null || true
done)
[ -z "$bad" ] || fail "these files point at ../shared/: $bad"

[ -f docs/science.md ] || fail "docs/science.md is missing"
grep -q '2406\.13971' docs/science.md || fail "docs/science.md does not cite arXiv 2406.13971"
grep -q '2402\.06184' docs/science.md || fail "docs/science.md does not cite arXiv 2402.06184"
grep -q '](docs/science.md)' README.md || fail "the README does not link docs/science.md"

# check_links DOC: markdown links [text](target) that are not URLs or
# anchors, relative to DOC's directory; and `dir/file.ext` paths in code
# spans, relative to the repository root (as the README writes them).
check_links() {
    doc=$1
    dir=$(dirname "$doc")
    grep -o '\]([^)#]*' "$doc" | sed 's/^](//' | grep -v -e '^[a-z][a-z]*:' -e '^$' |
        while read -r t; do
            [ -e "$dir/$t" ] || { echo "$doc links $t, which does not exist"; exit 1; }
        done
    grep -o '`[A-Za-z0-9_.-][A-Za-z0-9_.-]*/[A-Za-z0-9_./-]*\.\(md\|yaml\|json\|sh\|py\|c\|h\|js\|css\|html\|sql\|cases\)`' "$doc" |
        tr -d '`' | sort -u | while read -r t; do
            [ -e "$t" ] || { echo "$doc quotes $t, which does not exist"; exit 1; }
        done
}
for d in README.md docs/*.md; do
    out=$(check_links "$d") || fail "$out"
done
echo ok
