from django import forms
from django.utils.translation import gettext_lazy as _

from kameng.inventory.selectors import products_taking_card_keys


class ImportForm(forms.Form):
    product = forms.ModelChoiceField(label=_("商品"), queryset=products_taking_card_keys())
    lines = forms.CharField(
        label=_("粘贴卡密(每行一个)"), widget=forms.Textarea(attrs={"rows": 12}), required=False
    )
    file = forms.FileField(label=_("或上传 .txt / .csv 文件"), required=False)

    def clean(self):
        data = super().clean()
        if not data.get("lines", "").strip() and not data.get("file"):
            raise forms.ValidationError(_("粘贴卡密或选择一个文件"))
        return data
