#!/usr/bin/env python3
"""Cuts a real byte-level BPE tokenizer.json down to what a set of published encodings needs, keeping
the real ids and merge order:  trim_bpe.py FULL_tokenizer.json published.json OUT_tokenizer.json

Kept: the 256 byte tokens, every token of the published ids, and (closure) both parts of every merge
whose result is kept; kept merges are those whose result is kept, in their original order. Encoding
a published text with the cut file gives the full file's result: every merge that fires on it builds a
kept token, so it is kept, and the lowest-rank applicable merge at each step is the same one.
"""
import json, sys

full = json.load(open(sys.argv[1], encoding="utf-8"))
published = json.load(open(sys.argv[2], encoding="utf-8"))
vocab = full["model"]["vocab"]
inverse = {i: t for t, i in vocab.items()}
merges = [m.split(" ") if isinstance(m, str) else m for m in full["model"]["merges"]]
added_ids = {a["id"] for a in full["added_tokens"]}
keep = {t for t, i in vocab.items() if i < 256}
for case in published["cases"]:
    keep |= {inverse[i] for i in case["ids"] if i not in added_ids}
by_result = {}
for a, b in merges:
    by_result.setdefault(a + b, []).append((a, b))
todo = list(keep)
while todo:
    for a, b in by_result.get(todo.pop(), []):
        for part in (a, b):
            if part not in keep:
                keep.add(part)
                todo.append(part)
full["model"]["vocab"] = {t: i for t, i in vocab.items() if t in keep}
full["model"]["merges"] = [" ".join(m) for m in merges if m[0] + m[1] in keep]
full["truncation"] = None
json.dump(full, open(sys.argv[3], "w", encoding="utf-8"), ensure_ascii=False, indent=0)
print(f"{len(full['model']['vocab'])} tokens, {len(full['model']['merges'])} merges kept")
