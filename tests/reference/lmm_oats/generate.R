# nlme's Oats: split plot, 6 blocks x 3 varieties (whole plots) x 4 nitrogen
# levels (numeric). Variety is a random effect nested in Block here.
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(nlme::Oats)
fit_all_ext(list(
  list(name = "reml", formula_r = "yield ~ nitro + (1 | Block/Variety)",
       formula_py = "yield ~ nitro + (1 | Block/Variety)", reml = TRUE)
), data, "nlme::Oats")
