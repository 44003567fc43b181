# flip_byte.sh - source it for flip_byte FILE OFFSET: change the byte at
# OFFSET for certain (XOR 1). Writing a fixed byte instead would leave the
# file as it was whenever that byte was already there.
flip_byte() {
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' \n')
	[ -n "$b" ] || return 1
	printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}
