"""Go's text/tabwriter, which urfave/cli's help and rootlessctl's tables go through."""


def tabwrite(text: str, minwidth: int = 1, padding: int = 2) -> str:
    """Go's text/tabwriter with pad char ' ' and no flags, applied to a complete text.

    Tab-terminated cells are padded to their column width (widest cell of the column block plus
    `padding`, at least `minwidth`), where a column block is a run of consecutive lines having that
    cell; the text after a line's last tab is never padded. Tabwidth is irrelevant with a space pad
    char. Not handled: '\\v' soft cells, '\\f' and 0xff escapes (none occur in our texts).
    """
    lines = [ln.split("\t") for ln in text.split("\n")]
    out: "list[str]" = []
    widths: "list[int]" = []

    def write_lines(lo: int, hi: int) -> None:
        for cells in lines[lo:hi]:
            last = len(cells) - 1
            out.append("".join(c + " " * (widths[j] - len(c)) if j < last and j < len(widths) else c
                               for j, c in enumerate(cells)))

    def fmt(lo: int, hi: int) -> None:
        col = len(widths)
        this = lo
        while this < hi:
            if col >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(lo, this)
            lo = this
            width = minwidth
            while this < hi and col < len(lines[this]) - 1:
                width = max(width, len(lines[this][col]) + padding)
                this += 1
            widths.append(width)
            fmt(lo, this)
            widths.pop()
            lo = this
        write_lines(lo, hi)

    fmt(0, len(lines))
    return "\n".join(out)
