# Man pages: installed as they are (roff source, no build step).
MAN_PAGES := $(wildcard man/*.[1-8])
