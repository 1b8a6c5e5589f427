"""``escucha data index DIR [DIR ...] -o manifest.csv`` and ``escucha data download``."""

from __future__ import annotations

import sys


def register(sub):
    import argparse

    from ..corpora.registry import CORPORA

    p = sub.add_parser("data", help="corpus tools (index folders into a manifest, download a corpus)")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    ix = dsub.add_parser(
        "index", help="label every clip of one or more corpora and write a manifest CSV",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Label every clip under each DIR (its corpus detected from the layout, or --corpus) and\n"
                    "write one manifest CSV. Layouts:\n"
                    + "".join(f"  {r.name:8s} {r.layout}\n" for r in CORPORA.values())
                    + "A DIR may also be a CSV with columns file,label[,speaker][,corpus].")
    ix.add_argument("dir", nargs="+", help="corpus folder(s) or label CSV(s); .wav, .flac, .ogg, .mp3")
    ix.add_argument("-o", "--output", required=True, help="manifest CSV to write")
    ix.add_argument("--corpus", metavar="NAME", help=f"read every DIR as this corpus ({', '.join(CORPORA)}) "
                    "instead of detecting it")
    ix.add_argument("--label-map", metavar="FILE.json",
                    help='extra label names for folder-per-label, CSV and TESS input: {"their name": "angry", '
                         '"boredom": null} (null skips those files)')
    ix.add_argument("--strict", action="store_true", help="fail on a file whose name does not parse")
    ix.add_argument("--force", action="store_true", help="replace the output file if it exists")
    ix.add_argument("--vocal-channel", choices=["speech", "song", "all"], default="speech",
                    help="RAVDESS: keep speech (default), song or all clips")
    ix.add_argument("--modality", choices=["audio-only", "audio-video", "video-only", "all"], default="all",
                    help="RAVDESS: keep only this modality (default all)")
    ix.set_defaults(func=run_index)
    dl = dsub.add_parser("download", help="download and extract a corpus (checksum-verified)")
    dl.add_argument("corpus", choices=["ravdess"], help="corpus to fetch (RAVDESS speech, 24 actors, ~208 MB)")
    dl.add_argument("dir", help="folder to download into")
    dl.set_defaults(func=run_download)


def run_index(args) -> int:
    from pathlib import Path

    from ..corpora import scan_corpora, summary_table, write_manifest
    from ..errors import ConfigError
    from ..labels import load_label_map

    out = Path(args.output)
    for d in args.dir:   # a missing input first: it is what the user mistyped, not the output
        if not Path(d).exists():
            raise ConfigError(f"{d}: no such file or folder")
    if out.is_dir():
        raise ConfigError(f"{out}: is a folder; -o takes the manifest file to write")
    if out.exists() and not args.force:
        raise ConfigError(f"{out}: already exists; pass --force to replace it")
    from ..utils.io import check_writable

    check_writable(out)   # before the scan, in one line naming the manifest
    label_map = load_label_map(args.label_map) if args.label_map else None
    import warnings

    from ..corpora.manifest import CorpusWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        records = scan_corpora(args.dir, corpus=args.corpus, label_map=label_map, strict=args.strict,
                               vocal_channels=None if args.vocal_channel == "all" else [args.vocal_channel],
                               modalities=None if args.modality == "all" else [args.modality])
    for w in caught:   # the readers' summaries, then every file that could not be read, by name
        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        if isinstance(w.message, CorpusWarning):
            for reason, message in w.message.problems:
                if reason == "unreadable or empty files":
                    print(f"escucha: warning: skipped {message}", file=sys.stderr)
    path = write_manifest(records, out)
    speakers = len({r.speaker_key for r in records if r.speaker})
    unknown = sum(not r.speaker for r in records)
    corpora = len({r.corpus for r in records})
    minutes = sum(r.duration for r in records) / 60
    print(f"wrote {path}: {len(records)} clips, {speakers} speaker{'s' if speakers != 1 else ''}"
          + (f" ({unknown} clips without a speaker id)" if unknown else "") + f", {minutes:.1f} min"
          + (f", {corpora} corpora" if corpora > 1 else ""), file=sys.stderr)
    print(summary_table(records), file=sys.stderr)
    return 0


def run_download(args) -> int:
    from ..corpora.download import RESOURCES, download_corpus

    path = download_corpus(args.corpus, args.dir)
    print(f"{args.corpus} is in {path} (licence: {RESOURCES[args.corpus].licence})", file=sys.stderr)
    return 0
