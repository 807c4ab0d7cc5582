# lme4's Dyestuff2 (6 batches x 5 yields, simulated; the batch variance is
# estimated at exactly zero: a singular fit). Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::Dyestuff2)
fit_all_ext(list(
  list(name = "reml", formula_r = "Yield ~ 1 + (1 | Batch)", formula_py = "Yield ~ 1 + (1 | Batch)", reml = TRUE)
), data, "lme4::Dyestuff2")
