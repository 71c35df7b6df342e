"""Reports: a period's figures assembled into sections (:mod:`.content`), rendered as PDF
(:mod:`.pdf`) or an Excel workbook (:mod:`.excel`). :mod:`.model` is what they share."""
