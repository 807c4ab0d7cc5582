# nlme's Orthodont: 27 children (16 boys, 11 girls) measured at ages 8, 10,
# 12, 14. Correlated random intercept and age slope per Subject.
# Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(nlme::Orthodont)
fit_all_ext(list(
  list(name = "reml", formula_r = "distance ~ age + (age | Subject)", formula_py = "distance ~ age + (age | Subject)", reml = TRUE),
  list(name = "ml", formula_r = "distance ~ age + (age | Subject)", formula_py = "distance ~ age + (age | Subject)", reml = FALSE)
), data, "nlme::Orthodont")
