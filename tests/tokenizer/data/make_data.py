#!/usr/bin/env python3
"""Writes the small test tokenizers of tests/tokenizer (run from this directory; outputs are committed).

bytelevel/: a hand-built byte-level BPE tokenizer.json in the LLaMA-3 layout (Split regex + ByteLevel,
            TemplateProcessing BOS, ByteLevel decoder). Token id = byte value for the 256 byte characters.
metaspace/: a hand-built SentencePiece-style BPE tokenizer.json (Prepend/Replace normalizer, byte fallback,
            Replace/ByteFallback/Fuse/Strip decoder), LLaMA-2/Mistral layout.
sp/:        a SentencePiece BPE model trained by spm_train on corpus.txt, with expected ids from the
            sentencepiece Python module (the reference implementation) in sp/expected.json.
sp-json/:   the sp/ model converted to a LLaMA-2-layout tokenizer.json (merges from the vocabulary, ranked by
            the merged piece's score, as Hugging Face's converter does); it must give sp/expected.json's ids.
gpt2/:      GPT-2's tokenizer.json cut by trim_bpe.py to the tokens of published encodings (gpt2/published.json).
The expected ids of bytelevel/ and metaspace/ are derived by hand in test_tokenizer.cpp.
"""
import json, os, subprocess

def byte_chars():
    printable = list(range(ord('!'), ord('~') + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n); n += 1
    return table

LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")

def bytelevel():
    bc = byte_chars()
    vocab = {bc[b]: b for b in range(256)}
    merges = [("l", "l"), ("e", "ll"), ("h", "ell"), ("hell", "o"), ("Ġ", "t"), ("h", "e"), ("Ġt", "he"),
              ("Ġ", "hello"), ("1", "2"), ("Ġ", "Ġ"), (bc[0xE4], bc[0xB8]), (bc[0xE4] + bc[0xB8], bc[0xAD]),
              (bc[0xF0], bc[0x9F])]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    added = [("<|bos|>", True, False), ("<|eos|>", True, False), ("<|user|>", True, False),
             ("plena", False, False), ("<|mask|>", True, True)]
    added_tokens = []
    for content, special, lstrip in added:
        added_tokens.append({"id": len(vocab) + len(added_tokens), "content": content, "single_word": False,
                             "lstrip": lstrip, "rstrip": False, "normalized": not special, "special": special})
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added_tokens,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_SPLIT}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|bos|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|bos|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|bos|>": {"id": "<|bos|>", "ids": [256 + len(merges)], "tokens": ["<|bos|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": [[a, b] for a, b in merges]}}
    os.makedirs("bytelevel", exist_ok=True)
    with open("bytelevel/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    cfg = {"bos_token": "<|bos|>", "eos_token": {"content": "<|eos|>"},
           "chat_template": "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}"
                            "<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"}
    with open("bytelevel/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)

def metaspace():
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = 3 + b
    for t in ["▁", "h", "e", "l", "o", "w", "r", "d"]:
        vocab[t] = len(vocab)
    merges = [("l", "l"), ("▁", "h"), ("▁h", "e"), ("▁he", "ll"), ("▁hell", "o"), ("▁", "w"), ("o", "r"),
              ("▁w", "or"), ("l", "d"), ("▁wor", "ld")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    special = lambda i, c: {"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                            "normalized": False, "special": True}
    tok = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [special(0, "<unk>"), special(1, "<s>"), special(2, "</s>")],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]}}
    os.makedirs("metaspace", exist_ok=True)
    with open("metaspace/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=1)
    cfg = {"bos_token": "<s>", "eos_token": "</s>",
           "chat_template": "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
                            "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
                            "{{ message['content'] + eos_token}}{% endif %}{% endfor %}"}
    with open("metaspace/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=1)

SP_TESTS = ["Hello world", "hello  world   with\truns of   spaces", "The year 2024 has 366 days: 0123456789",
            "中文分词测试，日本語のテキスト", "emoji 😀🚀 and café naïve résumé", "  leading and trailing  ",
            "line one\nline two\n\nline four", "unseen glyphs: ∮ ⅋ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "", "a"]

def sentencepiece_model():
    import sentencepiece as spm
    os.makedirs("sp", exist_ok=True)
    subprocess.run(["spm_train", "--input=corpus.txt", "--model_prefix=sp/tokenizer", "--vocab_size=500",
                    "--model_type=bpe", "--byte_fallback=true", "--character_coverage=1.0",
                    "--split_digits=true", "--normalization_rule_name=identity",
                    "--remove_extra_whitespaces=false", "--allow_whitespace_only_pieces=true", "--minloglevel=2"], check=True)
    os.remove("sp/tokenizer.vocab")
    sp = spm.SentencePieceProcessor(model_file="sp/tokenizer.model")
    cases = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in SP_TESTS]
    with open("sp/expected.json", "w", encoding="utf-8") as f:
        json.dump({"bos": sp.bos_id(), "eos": sp.eos_id(), "vocab_size": sp.get_piece_size(), "cases": cases}, f,
                  ensure_ascii=False, indent=1)
    with open("sp/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "add_bos_token": True,
                   "chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n"
                                    "{% endfor %}"}, f, indent=1)

def sp_to_tokenizer_json():
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file="sp/tokenizer.model")
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    score = {sp.id_to_piece(i): sp.get_score(i) for i in range(sp.get_piece_size())}
    merges = []
    for piece in vocab:  # every split of a piece into two pieces, best-scored result first
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges += sorted(splits, key=lambda m: (vocab[m[0]], vocab[m[1]]))
    merges.sort(key=lambda m: score[m[0] + m[1]], reverse=True)
    special = lambda i: {"id": i, "content": sp.id_to_piece(i), "single_word": False, "lstrip": False,
                         "rstrip": False, "normalized": False, "special": True}
    with open("metaspace/tokenizer.json", encoding="utf-8") as f:
        tok = json.load(f)  # the same pipeline; the model and added tokens are the SentencePiece model's
    tok["added_tokens"] = [special(i) for i in range(3)]
    tok["model"]["vocab"] = vocab
    tok["model"]["merges"] = [[a, b] for a, b in merges]
    os.makedirs("sp-json", exist_ok=True)
    with open("sp-json/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False, indent=0)
    with open("sp-json/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>"}, f, indent=1)

if __name__ == "__main__":
    bytelevel()
    metaspace()
    sentencepiece_model()
    sp_to_tokenizer_json()
