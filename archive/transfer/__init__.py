"""Transfer to the county archive (档发〔2012〕7号; DA/T 48, 46, 70): package writer and checks."""
