# lme4's Penicillin: 24 plates x 6 samples, fully crossed, one diameter per
# cell. Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(lme4::Penicillin)
fit_all_ext(list(
  list(name = "reml", formula_r = "diameter ~ 1 + (1 | plate) + (1 | sample)",
       formula_py = "diameter ~ 1 + (1 | plate) + (1 | sample)", reml = TRUE)
), data, "lme4::Penicillin")
