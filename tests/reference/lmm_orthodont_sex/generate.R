# nlme's Orthodont: age by Sex interaction, uncorrelated random intercept and
# age slope per Subject. Sex keeps nlme's level order (Male, Female), so R's
# treatment contrast is SexFemale. Run from this folder: Rscript generate.R
source("../lmm_common/export.R")
data <- roundtrip_csv(nlme::Orthodont)
stopifnot(identical(levels(data$Sex), c("Male", "Female")))
fpy <- "distance ~ age * C(Sex, contr.treatment('Male')) + (age || Subject)"
fit_all_ext(list(
  list(name = "reml", formula_r = "distance ~ age * Sex + (age || Subject)", formula_py = fpy, reml = TRUE),
  list(name = "ml", formula_r = "distance ~ age * Sex + (age || Subject)", formula_py = fpy, reml = FALSE)
), data, "nlme::Orthodont")
